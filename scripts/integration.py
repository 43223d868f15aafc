"""Rule integration: batch-mixing score, cells per cluster and sample, ARI/NMI against known labels."""

from atacflow.errors import run_job
from atacflow.steps.integration import integration_report

run_job(
    lambda: integration_report(
        snakemake.input.clusters,  # noqa: F821
        snakemake.params.label_key,  # noqa: F821
        snakemake.output.scores,  # noqa: F821
        snakemake.output.cells,  # noqa: F821
        snakemake.output.figure,  # noqa: F821
    ),
    snakemake.log[0],  # noqa: F821
)
