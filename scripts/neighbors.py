"""Rule neighbors: the exact kNN graph of the cells' coordinates (config cluster.representation)."""

from atacflow.errors import run_job
from atacflow.steps.neighbors import neighbors

run_job(
    lambda: neighbors(
        snakemake.input.latent,  # noqa: F821
        dict(snakemake.params.neighbors),  # noqa: F821
        snakemake.params.seed,  # noqa: F821
        snakemake.threads,  # noqa: F821
        snakemake.output[0],  # noqa: F821
    ),
    snakemake.log[0],  # noqa: F821
)
