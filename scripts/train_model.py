"""Rule train_model: PoissonVI training with early stopping; best weights, the latent means and the decoded profiles'
coordinates saved."""

from pathlib import Path

from atacflow.errors import run_job
from atacflow.steps.train import train_model

run_job(
    lambda: train_model(
        snakemake.input.filtered,  # noqa: F821
        dict(snakemake.params.model),  # noqa: F821
        dict(snakemake.params.train),  # noqa: F821
        snakemake.params.device,  # noqa: F821
        snakemake.params.seed,  # noqa: F821
        snakemake.threads,  # noqa: F821
        Path(snakemake.output.weights).parent,  # noqa: F821
        snakemake.output.history,  # noqa: F821
        snakemake.output.latent,  # noqa: F821
        snakemake.params.checkpoint,  # noqa: F821
        snakemake.config["train"]["checkpoint_every_epochs"],  # noqa: F821  (changes no number: not a param)
    ),
    snakemake.log[0],  # noqa: F821
)
