"""Rule umap: the UMAP layout of the kNN graph."""

from atacflow.errors import run_job
from atacflow.steps.umap import umap

run_job(
    lambda: umap(
        snakemake.input.neighbors,  # noqa: F821
        snakemake.params.min_dist,  # noqa: F821
        snakemake.params.seed,  # noqa: F821
        snakemake.output[0],  # noqa: F821
    ),
    snakemake.log[0],  # noqa: F821
)
