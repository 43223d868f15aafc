"""Rule train_model: PoissonVI training with early stopping; the best weights are saved, and every cell's posterior
means in obsm['X_poissonvi'] and the Aitchison coordinates of its decoded profile in obsm['X_poissonvi_decoded']."""

import logging
from pathlib import Path

import torch

from ..keys import DECODED_KEY, LATENT_KEY
from ..model import PoissonVI
from ..provenance import record_step
from ..training import TrainingSettings
from .files import read_h5ad, write_h5ad, write_tsv

log = logging.getLogger("atacflow")


def train_model(filtered_path, model_params, train_params, device, seed, threads, model_dir, history_output,
                latent_output, checkpoint_path, checkpoint_every_epochs):
    """Train, resuming from `checkpoint_path` when a killed job of the same run left one there (it lies outside
    the rule's outputs, so Snakemake keeps it when the job fails); removed once the outputs are written. The
    latent is computed here, from the data and model already in memory, rather than in a job of its own."""
    torch.set_num_threads(threads)
    adata = read_h5ad(filtered_path)
    model = PoissonVI(adata, device=device, seed=seed, **model_params)
    log.info("PoissonVI on %s: %s", model.device, model.hyperparameters)
    settings = TrainingSettings(seed=seed, checkpoint_every_epochs=checkpoint_every_epochs, **train_params)
    history = model.train(adata, settings, checkpoint_path)
    adata.obsm[LATENT_KEY] = model.training_latent
    adata.obsm[DECODED_KEY] = model.decoded_profiles(model.training_latent)
    log.info("latent: %d cells x %d dimensions; decoded profiles' coordinates: %d", *adata.obsm[LATENT_KEY].shape,
             adata.obsm[DECODED_KEY].shape[1])
    write_tsv(history, history_output, index=False)
    model.save(model_dir)
    write_h5ad(record_step(adata, "model", {**model.hyperparameters, **model.training_summary["settings"]}),
               latent_output)
    Path(checkpoint_path).unlink(missing_ok=True)
