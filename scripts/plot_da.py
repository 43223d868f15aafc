"""Rule plot_da: dot plot of the top DA regions per cluster, and UMAPs of their fragments."""

from atacflow.errors import run_job
from atacflow.steps.plot_da import plot_da

run_job(
    lambda: plot_da(
        snakemake.input.clusters,  # noqa: F821
        snakemake.input.umap,  # noqa: F821
        snakemake.input.combined,  # noqa: F821
        snakemake.params.n_top_regions,  # noqa: F821
        snakemake.output.dotplot,  # noqa: F821
        snakemake.output.umaps,  # noqa: F821
    ),
    snakemake.log[0],  # noqa: F821
)
