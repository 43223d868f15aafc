"""Rule count_fragments: a sample's fragments file counted exactly in the study's regions or genome tiles."""

from atacflow.errors import run_job
from atacflow.steps.count_fragments import count_fragments

run_job(
    lambda: count_fragments(
        snakemake.input.fragments,  # noqa: F821
        dict(snakemake.params.cells),  # noqa: F821
        dict(snakemake.params.regions),  # noqa: F821
        snakemake.wildcards.sample,  # noqa: F821
        {"counts": snakemake.output.counts, "qc": snakemake.output.qc,  # noqa: F821
         "lengths": snakemake.output.lengths},  # noqa: F821
        dict(snakemake.params.annotation),  # noqa: F821
        snakemake.params.cell_metadata,  # noqa: F821
        snakemake.threads,  # noqa: F821
    ),
    snakemake.log[0],  # noqa: F821
)
