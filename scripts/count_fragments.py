"""Rule count_fragments: reads to fragments, ceil(reads / 2), when the counts say so."""

from atacflow import steps
from atacflow.errors import run_step

run_step(
    lambda: steps.count_fragments(snakemake.input.raw, snakemake.params.count_type, snakemake.output[0]),
    snakemake.log[0],  # noqa: F821
)
