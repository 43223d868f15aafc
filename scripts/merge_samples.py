"""Rule merge_samples: the samples' fragments over the study's regions, as one study."""

from atacflow.errors import run_job
from atacflow.steps.merge import merge_samples

run_job(
    lambda: merge_samples(
        list(snakemake.input.fragments),  # noqa: F821
        list(snakemake.params.samples),  # noqa: F821
        "".join(snakemake.input.regions),  # noqa: F821
        dict(snakemake.params.regions),  # noqa: F821
        snakemake.output.merged,  # noqa: F821
        snakemake.output.stats,  # noqa: F821
    ),
    snakemake.log[0],  # noqa: F821
)
