"""Rule differential_accessibility: every cluster against the rest, plus the configured comparisons."""

from pathlib import Path

from atacflow.errors import run_job
from atacflow.steps.da import differential_accessibility_tables

run_job(
    lambda: differential_accessibility_tables(
        snakemake.input.clusters,  # noqa: F821
        Path(snakemake.input.weights).parent,  # noqa: F821
        dict(snakemake.params.da),  # noqa: F821
        snakemake.params.device,  # noqa: F821
        snakemake.params.seed,  # noqa: F821
        snakemake.threads,  # noqa: F821
        snakemake.output.tables,  # noqa: F821
        snakemake.output.combined,  # noqa: F821
    ),
    snakemake.log[0],  # noqa: F821
)
