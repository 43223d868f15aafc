"""Rule count_fragments: reads to fragments, ceil(reads / 2), when the counts say so."""

from atacflow.errors import run_step
from atacflow.steps.fragments import count_fragments

run_step(
    lambda: count_fragments(snakemake.input.raw, snakemake.params.count_type, snakemake.output[0]),
    snakemake.log[0],  # noqa: F821
)
