"""Rule study_regions: the study's common regions, by genomic overlap of the samples' peaks or from a BED."""

from atacflow.errors import run_job
from atacflow.steps.regions import study_regions

run_job(
    lambda: study_regions(
        list(snakemake.input.raw),  # noqa: F821
        list(snakemake.params.samples),  # noqa: F821
        dict(snakemake.params.regions),  # noqa: F821
        snakemake.output[0],  # noqa: F821
    ),
    snakemake.log[0],  # noqa: F821
)
