"""Rule plot_fragment_qc: fragment lengths and per-cell fragment QC of one sample."""

from atacflow.errors import run_job
from atacflow.steps.plot_fragment_qc import plot_fragment_qc

run_job(
    lambda: plot_fragment_qc(
        snakemake.input.lengths,  # noqa: F821
        snakemake.input.qc,  # noqa: F821
        snakemake.wildcards.sample,  # noqa: F821
        dict(snakemake.params.thresholds),  # noqa: F821
        snakemake.output[0],  # noqa: F821
    ),
    snakemake.log[0],  # noqa: F821
)
