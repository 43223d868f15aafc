"""Rule filter_cells_regions: region and cell filters, with the numbers before and after."""

from atacflow.errors import run_job
from atacflow.steps.filter import filter_matrix

run_job(
    lambda: filter_matrix(snakemake.input.merged, dict(snakemake.params.filter), snakemake.output.filtered, snakemake.output.stats),
    snakemake.log[0],  # noqa: F821
)
