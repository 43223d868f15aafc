"""Rule latent: posterior means of every cell, in obsm['X_poissonvi']."""

import logging

import torch

from ..keys import LATENT_KEY
from ..model import PoissonVI
from ..provenance import record_step
from .files import read_h5ad, write_h5ad

log = logging.getLogger("atacflow")


def compute_latent(filtered_path, model_dir, device, threads, output):
    torch.set_num_threads(threads)
    adata = read_h5ad(filtered_path)
    model = PoissonVI.load(model_dir, adata, device)
    adata.obsm[LATENT_KEY] = model.get_latent(adata)
    log.info("latent: %d cells x %d dimensions", *adata.obsm[LATENT_KEY].shape)
    write_h5ad(record_step(adata, "model", {**model.hyperparameters, **model.training_summary["settings"]}), output)
