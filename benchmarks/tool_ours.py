"""The atacflow side of the benchmarks: train, load, and run DA; each function runs in its own child process."""

import time

from atacflow.comparisons import cluster_comparisons, make_comparison
from atacflow.da import DASettings, differential_accessibility, model_accessibility_blocks
from atacflow.model import PoissonVI
from atacflow.training import TrainingSettings

from bench_common import MODELS, POWER_GROUPS, TUTORIAL_LR, TUTORIAL_PATIENCE, peak_rss_mib

FDR_COLUMN = "is_da_fdr_0.05"


def train(adata, max_epochs):
    """Train with the tutorial's hyper-parameters (scvi-tools' sizes int(sqrt(regions)) and int(sqrt(n_hidden)),
    TrainingSettings at lr TUTORIAL_LR, patience TUTORIAL_PATIENCE and
    the KL warm-up over its 50 epochs alone, as scvi-tools), save, summarize."""
    model = PoissonVI(adata, n_hidden=None, device="cpu", seed=0)
    settings = TrainingSettings(max_epochs=max_epochs, lr=TUTORIAL_LR, early_stopping_patience=TUTORIAL_PATIENCE,
                                n_steps_kl_warmup=None)
    started, cpu_started = time.perf_counter(), time.process_time()
    history = model.train(adata, settings)
    training_s, cpu_s = time.perf_counter() - started, time.process_time() - cpu_started
    model.save(MODELS["ours"])
    summary, sizes = model.training_summary, model.hyperparameters
    best = summary["best_validation_reconstruction_loss"]
    return {
        "tool": "atacflow", "n_hidden": sizes["n_hidden"], "n_latent": sizes["n_latent"],
        "n_validation_cells": summary["n_validation_cells"], "s_per_epoch": float(history["seconds"].median()),
        "s_per_epoch_p10": float(history["seconds"].quantile(0.1)),
        "cpu_s_per_epoch": cpu_s / summary["n_epochs"], "epochs": summary["n_epochs"],
        "best_epoch": summary["best_epoch"] + 1, "training_s": training_s,
        "best_val_recon": best, "kept_weights_val_recon": best, "peak_rss_mib": peak_rss_mib(),
    }


def da(adata, task):
    """Run one DA task ('null', 'power' or 'speed') with the default DASettings; returns one result per
    variant: calls (region names), number tested, wall time of the DA call, peak memory of this process."""
    model = PoissonVI.load(MODELS["ours"], adata, device="cpu")
    return [_run(model, adata, name, comparisons) for name, comparisons in _variants(adata.obs, task)]


def _variants(obs, task):
    if task == "null":
        return [(f"atacflow {mode}", [make_comparison(obs, "null_split", "A", "B", mode)])
                for mode in ("two-sided", "one-sided")]
    if task == "power":
        return [("atacflow two-sided", [make_comparison(obs, "cell_type", *POWER_GROUPS, "two-sided")])]
    return [("atacflow one-sided", cluster_comparisons(obs, "cell_type", "one-sided"))]


def _run(model, adata, name, comparisons):
    settings = DASettings()
    started = time.perf_counter()
    tables = differential_accessibility(
        model_accessibility_blocks(model, adata, settings), adata.X, adata.var_names, comparisons, settings
    )
    seconds = time.perf_counter() - started
    calls = [table.index[table[FDR_COLUMN]].tolist() for table in tables.values()]
    return {
        "method": name, "delta": settings.delta, "n_comparisons": len(tables), "n_tested": adata.n_vars * len(tables),
        "calls": calls, "n_calls": sum(map(len, calls)),
        "calls_effect_in_null": sum(_calls_effect_in_null(table) for table in tables.values()),
        "min_proba": min(float(table["proba_da"].min()) for table in tables.values()),
        "seconds": seconds, "peak_rss_mib": peak_rss_mib(),
    }


def _calls_effect_in_null(table):
    """Calls whose posterior mean LFC lies in the null region: |lfc| < delta (two-sided), lfc < delta (one-sided)."""
    effect = table["lfc_mean"].abs() if table["mode"].iloc[0] == "two-sided" else table["lfc_mean"]
    return int((table[FDR_COLUMN] & (effect < table["delta"])).sum())
