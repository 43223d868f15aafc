"""Rule plot_training: training and validation curves."""

from atacflow import steps
from atacflow.errors import run_step

run_step(
    lambda: steps.plot_training(snakemake.input.history, snakemake.input.description, snakemake.output[0]),
    snakemake.log[0],  # noqa: F821
)
