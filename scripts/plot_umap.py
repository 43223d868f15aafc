"""Rule plot_umap: UMAP coloured by Leiden cluster and configured annotation columns."""

from atacflow.errors import run_job
from atacflow.steps.plot_umap import plot_umap

run_job(
    lambda: plot_umap(
        snakemake.input.clusters,  # noqa: F821
        snakemake.input.umap,  # noqa: F821
        list(snakemake.params.columns),  # noqa: F821
        snakemake.output[0],  # noqa: F821
    ),
    snakemake.log[0],  # noqa: F821
)
