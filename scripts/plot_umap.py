"""Rule plot_umap: UMAP coloured by Leiden cluster and configured annotation columns."""

from atacflow.errors import run_job
from atacflow.steps.plot_umap import plot_umap

run_job(
    lambda: plot_umap(snakemake.input.clustered, list(snakemake.params.columns), snakemake.output[0]),
    snakemake.log[0],  # noqa: F821
)
