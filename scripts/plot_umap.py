"""Rule plot_umap: UMAP coloured by Leiden cluster and configured annotation columns."""

from atacflow import steps
from atacflow.errors import run_step

run_step(
    lambda: steps.plot_umap(snakemake.input.clustered, list(snakemake.params.columns), snakemake.output[0]),
    snakemake.log[0],  # noqa: F821
)
