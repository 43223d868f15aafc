"""Rule latent: posterior means of the latent for every cell, in obsm['X_poissonvi']."""

from pathlib import Path

from atacflow.errors import run_step
from atacflow.steps.latent import compute_latent

run_step(
    lambda: compute_latent(
        snakemake.input.filtered,  # noqa: F821
        Path(snakemake.input.weights).parent,  # noqa: F821
        snakemake.params.device,  # noqa: F821
        snakemake.threads,  # noqa: F821
        snakemake.output[0],  # noqa: F821
    ),
    snakemake.log[0],  # noqa: F821
)
