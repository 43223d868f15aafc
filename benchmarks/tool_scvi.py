"""The scvi-tools 1.4.2 POISSONVI side of the benchmarks, imported only in its own child processes (so that
the atacflow children never load scvi-tools or Lightning).

Training follows the scvi-tools PoissonVI tutorial with our hyper-parameters. Every TrainingSettings field
maps onto POISSONVI.train (inherited from PEAKVI.train): max_epochs, lr, weight_decay, eps, batch_size,
train_size, early_stopping_patience, n_epochs_kl_warmup; AdamW is its fixed optimizer; the seed is
scvi.settings.seed. What does not map:
- the validation cells: scvi draws its own 10%; we hand it ours (datasplitter_kwargs external_indexing, the
  same split_cells(n, 0.9, seed 0) cells atacflow validates on) so that both losses are over the same cells;
- best weights: scvi keeps the last epoch's weights at early stopping, atacflow restores the best epoch's;
- the minibatch order and initial weights come from each library's own random streams.
"""

import time

import lightning.pytorch as pl
import numpy as np
import scvi

from atacflow.model import default_sizes
from atacflow.training import TrainingSettings, split_cells

from bench_common import MODELS, POWER_GROUPS, SEED, TUTORIAL_LR, TUTORIAL_PATIENCE, peak_rss_mib

FDR_COLUMN = "is_de_fdr_0.05"  # scvi-tools names it is_de_, not is_da_, in differential_accessibility too


class EpochTimer(pl.Callback):
    """Wall time of each epoch, training and validation (Lightning validates before on_train_epoch_end)."""

    def __init__(self):
        self.seconds, self._started = [], None

    def on_train_epoch_start(self, trainer, module):
        self._started = time.perf_counter()

    def on_train_epoch_end(self, trainer, module):
        self.seconds.append(time.perf_counter() - self._started)


def tutorial_recipe(stages, adata, min_region_cell_fraction, max_epochs=None):
    """Stages "fragments+filter" and "train" of the PoissonVI tutorial on `adata` (read counts in X):
    reads_to_fragments, filter_genes(min_cells), setup_anndata(layer="fragments"), POISSONVI(adata).train
    (max_epochs None: its default) with scvi.settings.seed = SEED. Returns the model and the epoch timer."""
    import scanpy as sc

    with stages.stage("fragments+filter"):
        scvi.data.reads_to_fragments(adata)
        sc.pp.filter_genes(adata, min_cells=int(adata.n_obs * min_region_cell_fraction))
    stages.extra.update({"n_cells": adata.n_obs, "n_regions": adata.n_vars,
                         "nnz_filtered": int(adata.layers["fragments"].nnz)})
    timer = EpochTimer()
    with stages.stage("train"):
        scvi.settings.seed = SEED
        scvi.external.POISSONVI.setup_anndata(adata, layer="fragments")
        model = scvi.external.POISSONVI(adata)
        kwargs = {} if max_epochs is None else {"max_epochs": max_epochs}
        model.train(accelerator="cpu", callbacks=[timer], enable_progress_bar=False, **kwargs)
    return model, timer


def scvi_anndata(adata):
    """Copy with the same fragment matrix in X and the cell annotation, registered as in the tutorial."""
    data = adata.copy()
    scvi.external.POISSONVI.setup_anndata(data)
    return data


def train(adata, max_epochs):
    scvi.settings.seed = SEED
    data = scvi_anndata(adata)
    settings = TrainingSettings(max_epochs=max_epochs, lr=TUTORIAL_LR, early_stopping_patience=TUTORIAL_PATIENCE)
    n_hidden, n_latent = default_sizes(data.n_vars)
    model = scvi.external.POISSONVI(data, n_hidden=n_hidden, n_latent=n_latent)
    train_cells, validation_cells = split_cells(data.n_obs, settings.train_fraction, settings.seed)
    timer = EpochTimer()
    started, cpu_started = time.perf_counter(), time.process_time()
    model.train(
        max_epochs=settings.max_epochs, lr=settings.lr, weight_decay=settings.weight_decay, eps=settings.eps,
        batch_size=settings.batch_size, train_size=settings.train_fraction, early_stopping=True,
        early_stopping_patience=settings.early_stopping_patience, n_epochs_kl_warmup=settings.n_epochs_kl_warmup,
        accelerator="cpu", devices=1, datasplitter_kwargs={"external_indexing": [train_cells, validation_cells]},
        callbacks=[timer], enable_progress_bar=False,
    )
    training_s, cpu_s = time.perf_counter() - started, time.process_time() - cpu_started
    model.save(str(MODELS["scvi"]), overwrite=True, save_anndata=False)
    validation = model.history["reconstruction_loss_validation"]["reconstruction_loss_validation"].to_numpy()
    return {
        "tool": "scvi-tools", "n_hidden": n_hidden, "n_latent": n_latent,
        "n_validation_cells": len(model.validation_indices), "s_per_epoch": float(np.median(timer.seconds)),
        "s_per_epoch_p10": float(np.quantile(timer.seconds, 0.1)), "cpu_s_per_epoch": cpu_s / len(validation),
        "epochs": len(validation), "best_epoch": int(validation.argmin()) + 1, "training_s": training_s,
        "best_val_recon": float(validation.min()), "kept_weights_val_recon": float(validation[-1]),
        "peak_rss_mib": peak_rss_mib(),
    }


def da(adata, task):
    """Run one DA task ('null', 'power' or 'speed'); same result fields as tool_ours.da."""
    data = scvi_anndata(adata)
    model = scvi.external.POISSONVI.load(str(MODELS["scvi"]), adata=data, accelerator="cpu")
    return [_run(model, data, name, arguments) for name, arguments in _variants(task)]


def _variants(task):
    if task == "null":
        pair = {"groupby": "null_split", "group1": "A", "group2": "B"}
        return [("scvi two-sided (defaults)", pair), ("scvi one-sided", {**pair, "two_sided": False}),
                ("scvi two-sided delta 0.5", {**pair, "delta": 0.5})]
    if task == "power":
        pair = {"groupby": "cell_type", "group1": POWER_GROUPS[0], "group2": POWER_GROUPS[1]}
        return [("scvi two-sided (defaults)", pair), ("scvi two-sided delta 0.5", {**pair, "delta": 0.5})]
    return [("scvi one-sided", {"groupby": "cell_type", "two_sided": False})]


def _run(model, data, name, arguments):
    scvi.settings.seed = SEED
    started = time.perf_counter()
    table = model.differential_accessibility(data, silent=True, **arguments)
    seconds = time.perf_counter() - started
    tables = [group for _, group in table.groupby("comparison", sort=False)] if "comparison" in table else [table]
    calls = [group.index[group[FDR_COLUMN]].tolist() for group in tables]
    return {
        "method": name, "delta": arguments.get("delta", 0.05), "n_comparisons": len(tables),
        "n_tested": data.n_vars * len(tables), "calls": calls, "n_calls": sum(map(len, calls)),
        "calls_effect_in_null": _calls_effect_in_null(table, arguments.get("two_sided", True)),
        "min_proba": float(table["proba_de"].min()), "seconds": seconds, "peak_rss_mib": peak_rss_mib(),
    }


def _calls_effect_in_null(table, two_sided):
    """Calls whose posterior mean LFC lies in the null region (|lfc| < delta two-sided, lfc < delta one-sided):
    proba_de is max(P(effect), P(no effect)), so a region confidently without effect can be called."""
    effect = table["lfc_mean"].abs() if two_sided else table["lfc_mean"]
    return int((table[FDR_COLUMN] & (effect < table["delta"])).sum())
