"""Rule condition_da: conditions compared with samples as replicates (pseudobulk, negative-binomial GLM)."""

from atacflow.errors import run_job
from atacflow.steps.conditions import condition_tables

run_job(
    lambda: condition_tables(
        snakemake.input.clusters,  # noqa: F821
        list(snakemake.params.conditions),  # noqa: F821
        dict(snakemake.params.pseudobulk),  # noqa: F821
        snakemake.output.tables,  # noqa: F821
        snakemake.output.combined,  # noqa: F821
        list(snakemake.output.volcanoes),  # noqa: F821
        snakemake.threads,  # noqa: F821
    ),
    snakemake.log[0],  # noqa: F821
)
