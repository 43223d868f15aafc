"""Rule fragments_from_matrix: reads to fragments, ceil(reads / 2), when the counts say so."""

from atacflow.errors import run_job
from atacflow.steps.fragments_from_matrix import fragments_from_matrix

run_job(
    lambda: fragments_from_matrix(snakemake.input.raw, snakemake.params.count_type, snakemake.output[0]),  # noqa: F821
    snakemake.log[0],  # noqa: F821
)
