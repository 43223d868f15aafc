"""Rule cluster: Leiden on the kNN graph."""

from atacflow.errors import run_job
from atacflow.steps.cluster import cluster

run_job(
    lambda: cluster(
        snakemake.input.latent,  # noqa: F821
        snakemake.input.neighbors,  # noqa: F821
        snakemake.params.resolution,  # noqa: F821
        snakemake.params.seed,  # noqa: F821
        snakemake.output[0],  # noqa: F821
    ),
    snakemake.log[0],  # noqa: F821
)
