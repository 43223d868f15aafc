"""Rule filter_cells_regions: region and cell filters, with the numbers before and after."""

from atacflow import steps
from atacflow.errors import run_step

run_step(
    lambda: steps.filter_matrix(snakemake.input.fragments, dict(snakemake.params.filter), snakemake.output.filtered, snakemake.output.stats),
    snakemake.log[0],  # noqa: F821
)
