"""Training loop: AdamW, KL warm-up (over epochs or minibatch steps, whichever ends first), an optional
learning-rate cut on plateaus, early stopping on a validation loss (reconstruction, or the negative ELBO) after the
warm-up, best weights restored."""

import copy
import logging
import math
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from .checkpoints import random_states, restore_random_states, stop_requests
from .errors import InputError, StepInterrupted
from .optimizer import AdamW, PlateauCut

log = logging.getLogger(__name__)
MONITORS = ("reconstruction", "elbo")


@dataclass(frozen=True)
class TrainingSettings:
    lr: float = 3e-3
    weight_decay: float = 1e-3
    eps: float = 1e-8
    batch_size: int = 128
    train_fraction: float = 0.9
    max_epochs: int = 500
    early_stopping_patience: int = 5
    early_stopping_min_delta: float = 0.0
    early_stopping_monitor: str = "reconstruction"
    n_epochs_kl_warmup: int = 50
    n_steps_kl_warmup: int | None = 2000
    max_kl_weight: float = 1.0
    lr_plateau_patience: int = 0
    lr_plateau_factor: float = 0.5
    checkpoint_every_epochs: int = 10
    seed: int = 0
    # subnormal floats (below 1.2e-38) arising in a step cost x86 cores many cycles per operation; flushed to zero
    # on the CPU: the same weights, epochs a few percent faster on the Granja set (bench_training_floor.py)
    flush_denormals: bool = True

    def __post_init__(self):
        if not 0 < self.max_kl_weight <= 1:
            raise InputError(f"config train.max_kl_weight: found {self.max_kl_weight!r}; expected a number in (0, 1]")
        if self.early_stopping_monitor not in MONITORS:
            raise InputError(f"config train.early_stopping_monitor: found {self.early_stopping_monitor!r}; "
                             f"expected one of {', '.join(MONITORS)}")


def monitored_loss(reconstruction, kl, monitor):
    """The validation loss that early stopping, the best epoch and the lr plateau follow: the reconstruction
    loss -log p(x | z), or the negative ELBO -log p(x | z) + KL(q(z | x) || p(z)) (the whole KL, whatever
    max_kl_weight trained with)."""
    return reconstruction if monitor == "reconstruction" else reconstruction + kl


def kl_weight(t, n):
    """beta = min(1, t / n): rises linearly from 0 at t = 0 to 1 at t = n (1 throughout when n = 0)."""
    return 1.0 if n <= 0 else min(1.0, t / n)


def kl_weights(epoch, steps_per_epoch, settings):
    """beta of each minibatch step t (counted since the start) of `epoch`: the warm-up ends after
    `n_epochs_kl_warmup` epochs or `n_steps_kl_warmup` steps, whichever comes first,
    beta_t = max_kl_weight x max(kl_weight(epoch, n_epochs_kl_warmup), kl_weight(t, n_steps_kl_warmup)) (epochs
    alone when n_steps_kl_warmup is None). Small data sets, with few steps per epoch, warm up over the epochs;
    large ones over the steps, as many updates as a mid-sized set gets (recipe study: 50 epochs and 2,000 steps)."""
    by_epoch = kl_weight(epoch, settings.n_epochs_kl_warmup)
    if settings.n_steps_kl_warmup is None:
        return [settings.max_kl_weight * by_epoch] * steps_per_epoch
    first = epoch * steps_per_epoch
    return [settings.max_kl_weight * max(by_epoch, kl_weight(first + step, settings.n_steps_kl_warmup))
            for step in range(steps_per_epoch)]


def warmup_epochs(steps_per_epoch, settings):
    """The number of epochs before the first one trained wholly at beta = max_kl_weight."""
    if settings.n_steps_kl_warmup is None:
        return settings.n_epochs_kl_warmup
    return min(settings.n_epochs_kl_warmup, math.ceil(settings.n_steps_kl_warmup / steps_per_epoch))


def split_cells(n_cells, train_fraction, seed):
    """Seeded random split into train and validation cell indices (validation may be empty)."""
    order = np.random.default_rng(seed).permutation(n_cells)
    n_train = n_cells if train_fraction >= 1 else max(1, int(round(train_fraction * n_cells)))
    return np.sort(order[:n_train]), np.sort(order[n_train:])


def train(module, data, settings, batch_onehot=None, train_cells=None, validation_cells=None, checkpoint=None):
    """Fit `module` to `data` (a DeviceCSR) and restore the weights of the best validation epoch.

    Returns the per-epoch history (train loss, validation reconstruction loss, KL, beta, lr, seconds)
    and the best epoch (0-based) among those after the KL warm-up. Without validation cells, the training
    cells' reconstruction loss is monitored instead. With a `checkpoint` (checkpoints.TrainingCheckpoint),
    training resumes from it when it belongs to this run, saves one every `checkpoint.every` epochs, and on
    SIGTERM saves one after the current epoch and raises StepInterrupted.
    """
    device = data.device
    torch.set_flush_denormal(settings.flush_denormals)
    if train_cells is None:
        train_cells, validation_cells = split_cells(data.shape[0], settings.train_fraction, settings.seed)
    train_rows = torch.as_tensor(train_cells, device=device)
    monitored_rows = torch.as_tensor(validation_cells if len(validation_cells) else train_cells, device=device)
    optimizer = AdamW(module.parameters(), lr=settings.lr, weight_decay=settings.weight_decay, eps=settings.eps)
    scheduler = _plateau_scheduler(optimizer, settings)
    generator = torch.Generator(device=device).manual_seed(settings.seed)
    steps_per_epoch = math.ceil(len(train_cells) / settings.batch_size)
    progress = {"epoch": -1, "best_loss": float("inf"), "best_epoch": -1, "best_state": None,
                "epochs_without_improvement": 0, "history": []}
    saved = checkpoint.load(device) if checkpoint else None
    if saved:
        module.load_state_dict(saved["module"])
        optimizer.load_state_dict(saved["optimizer"])
        if scheduler:
            scheduler.load_state_dict(saved["scheduler"])
        restore_random_states(saved["random_states"], generator)
        progress = saved["progress"]
    with stop_requests() as stop_requested:
        for epoch in range(progress["epoch"] + 1, settings.max_epochs):
            started = time.perf_counter()
            betas = kl_weights(epoch, steps_per_epoch, settings)
            train_loss = _train_epoch(module, data, train_rows, optimizer, betas, settings.batch_size, generator,
                                      batch_onehot)
            reconstruction, kl = evaluate(module, data, monitored_rows, batch_onehot)
            seconds = time.perf_counter() - started
            progress["history"].append(
                {"epoch": epoch, "train_loss": train_loss, "validation_reconstruction_loss": reconstruction,
                 "validation_kl": kl, "beta": betas[-1], "lr": optimizer.lr, "seconds": seconds}
            )
            log.info("epoch %d: train loss %.3f, validation reconstruction %.3f, KL %.3f, beta %.3f, lr %.2g, %.2f s",
                     epoch, train_loss, reconstruction, kl, betas[-1], optimizer.lr, seconds)
            progress["epoch"] = epoch
            monitored = betas[0] >= settings.max_kl_weight or _warmup_outlasts_training(steps_per_epoch, settings)
            loss = monitored_loss(reconstruction, kl, settings.early_stopping_monitor)
            if monitored and scheduler:
                scheduler.step(loss)
            if monitored and _early_stop(progress, module, epoch, loss, settings):
                break
            if checkpoint and (checkpoint.due(epoch) or stop_requested()):
                checkpoint.save({"epoch": epoch, "module": module.state_dict(), "optimizer": optimizer.state_dict(),
                                 **({"scheduler": scheduler.state_dict()} if scheduler else {}),
                                 "random_states": random_states(generator), "progress": progress})
            if stop_requested():
                raise StepInterrupted(f"training stopped by SIGTERM after epoch {epoch}; rerun to resume from the "
                                      f"checkpoint {checkpoint.path if checkpoint else '(none configured)'}")
    history = progress["history"]
    if progress["best_state"] is None:
        raise InputError(
            f"training: the validation {settings.early_stopping_monitor} loss was not finite in any epoch after the "
            f"KL warm-up (last reconstruction loss: {history[-1]['validation_reconstruction_loss']}); expected finite losses: lower train.lr "
            f"(now {settings.lr}) or check the input counts"
        )
    module.load_state_dict(progress["best_state"])
    log.info("restored the weights of epoch %d (validation %s loss %.3f)",
             progress["best_epoch"], settings.early_stopping_monitor, progress["best_loss"])
    return pd.DataFrame(history), progress["best_epoch"]


def _plateau_scheduler(optimizer, settings):
    """lr *= lr_plateau_factor once more than `lr_plateau_patience` monitored epochs in a row brought no lower
    monitored validation loss (optimizer.PlateauCut; None, a constant lr, when the patience is 0)."""
    if settings.lr_plateau_patience <= 0:
        return None
    return PlateauCut(optimizer, settings.lr_plateau_factor, settings.lr_plateau_patience,
                      settings.early_stopping_min_delta)


def _early_stop(progress, module, epoch, loss, settings):
    """Keep the best monitored epoch's weights; True once `early_stopping_patience` epochs brought no improvement."""
    if loss < progress["best_loss"] - settings.early_stopping_min_delta:
        progress.update(best_loss=loss, best_epoch=epoch, best_state=copy.deepcopy(module.state_dict()),
                        epochs_without_improvement=0)
        return False
    progress["epochs_without_improvement"] += 1
    if progress["epochs_without_improvement"] >= settings.early_stopping_patience:
        log.info("early stopping at epoch %d: no improvement for %d epochs", epoch, progress["epochs_without_improvement"])
        return True
    return False


def _warmup_outlasts_training(steps_per_epoch, settings):
    """Early stopping, the best-epoch choice and the lr plateau consider only epochs trained wholly on the full
    objective (beta = max_kl_weight from their first step): during the KL warm-up the reconstruction term is
    weighted more, so its validation loss is lower by construction and not comparable. A run shorter than the
    warm-up (this is True) monitors every epoch."""
    return settings.max_epochs <= warmup_epochs(steps_per_epoch, settings)


def _train_epoch(module, data, train_rows, optimizer, betas, batch_size, generator, batch_onehot):
    module.train()
    order = train_rows[torch.randperm(len(train_rows), generator=generator, device=train_rows.device)]
    total, n_cells = torch.zeros((), device=data.device), 0
    for (rows, batch, library_size, constant), beta in zip(data.minibatches(order, batch_size), betas, strict=True):
        reconstruction, kl = module.loss(batch, library_size, constant,
                                         None if batch_onehot is None else batch_onehot[rows])
        loss = (reconstruction + beta * kl).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        total += loss.detach() * len(rows)
        n_cells += len(rows)
    return float(total) / n_cells


@torch.no_grad()
def evaluate(module, data, rows, batch_onehot=None, chunk_size=1024):
    """Mean per-cell reconstruction loss and KL over `rows`, in evaluation mode (z sampled from q)."""
    module.eval()
    reconstruction_sum, kl_sum = torch.zeros((), device=data.device), torch.zeros((), device=data.device)
    for chunk in rows.split(chunk_size):
        reconstruction, kl = _losses(module, data, chunk, batch_onehot)
        reconstruction_sum += reconstruction.sum()
        kl_sum += kl.sum()
    return float(reconstruction_sum) / len(rows), float(kl_sum) / len(rows)


def _losses(module, data, rows, batch_onehot):
    """Per-cell reconstruction loss and KL of the given rows of `data`."""
    return module.loss(
        data.rows(rows), data.library_size[rows], data.library_constant[rows],
        None if batch_onehot is None else batch_onehot[rows],
    )
