"""Rule plot_training: training and validation curves."""

from atacflow.errors import run_job
from atacflow.steps.plot_training import plot_training

run_job(
    lambda: plot_training(snakemake.input.history, snakemake.input.description, snakemake.output[0]),
    snakemake.log[0],  # noqa: F821
)
