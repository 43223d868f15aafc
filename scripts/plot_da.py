"""Rule plot_da: dot plot of the top DA regions per cluster, and UMAPs of their fragments."""

from atacflow.errors import run_job
from atacflow.steps.plot_da import plot_da

run_job(
    lambda: plot_da(snakemake.input.clustered, snakemake.input.combined, snakemake.params.n_top_regions, snakemake.output.dotplot, snakemake.output.umaps),
    snakemake.log[0],  # noqa: F821
)
