"""Rule clustered: clusters and UMAP in one AnnData."""

from atacflow.errors import run_job
from atacflow.steps.clustered import clustered

run_job(
    lambda: clustered(snakemake.input.clusters, snakemake.input.umap, snakemake.output[0]),  # noqa: F821
    snakemake.log[0],  # noqa: F821
)
