"""One function per workflow rule: read the rule's files, call the library, write the rule's outputs.

Outputs are written to a temporary name and renamed, so a failed step leaves no half-written file.
"""

import json
import logging
import os
from contextlib import contextmanager
from pathlib import Path

import anndata as ad
import pandas as pd
import torch

from . import plots
from .clustering import LATENT_KEY, cluster_latent
from .comparisons import cluster_comparisons, configured_comparisons, join_cell_metadata
from .da import DASettings, differential_accessibility, model_accessibility_blocks
from .errors import InputError
from .filtering import filter_cells_and_regions
from .fragments import to_fragments
from .matrix_io import read_peak_matrix
from .model import PoissonVI
from .provenance import record_step
from .training import TrainingSettings

log = logging.getLogger("atacflow")


@contextmanager
def atomic_path(path):
    """Yield a temporary path beside `path`; rename it to `path` only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.partial{path.suffix}")
    try:
        yield temporary
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def write_h5ad(adata, path):
    with atomic_path(path) as temporary:
        adata.write_h5ad(temporary, compression="gzip")


def write_tsv(table, path, index=True):
    with atomic_path(path) as temporary:
        table.to_csv(temporary, sep="\t", index=index)


def read_h5ad(path):
    return ad.read_h5ad(path)


def read_matrix(matrix_path, metadata_path, output):
    adata = read_peak_matrix(matrix_path)
    if metadata_path:
        adata.obs = join_cell_metadata(adata.obs, metadata_path)
    log.info("%s: %d cells x %d regions, %d nonzero entries", matrix_path, adata.n_obs, adata.n_vars, adata.X.nnz)
    write_h5ad(record_step(adata, "read", {"path": str(matrix_path), "cell_metadata": str(metadata_path or "")}), output)


def count_fragments(raw_path, count_type, output):
    adata = to_fragments(read_h5ad(raw_path), count_type)
    write_h5ad(record_step(adata, "fragments", {"count_type": count_type}), output)


def filter_matrix(fragments_path, params, output, stats_output):
    adata, stats = filter_cells_and_regions(read_h5ad(fragments_path), source=str(fragments_path), **params)
    write_tsv(stats, stats_output)
    write_h5ad(record_step(adata, "filter", params), output)


def train_model(filtered_path, model_params, train_params, device, seed, threads, model_dir, history_output):
    torch.set_num_threads(threads)
    adata = read_h5ad(filtered_path)
    model = PoissonVI(adata, device=device, seed=seed, **model_params)
    log.info("PoissonVI on %s: %s", model.device, model.hyperparameters)
    history = model.train(adata, TrainingSettings(seed=seed, **train_params))
    write_tsv(history, history_output, index=False)
    model.save(model_dir)


def compute_latent(filtered_path, model_dir, device, threads, output):
    torch.set_num_threads(threads)
    adata = read_h5ad(filtered_path)
    model = PoissonVI.load(model_dir, adata, device)
    adata.obsm[LATENT_KEY] = model.get_latent(adata)
    log.info("latent: %d cells x %d dimensions", *adata.obsm[LATENT_KEY].shape)
    write_h5ad(record_step(adata, "model", {**model.hyperparameters, **model.training_summary["settings"]}), output)


def cluster(latent_path, params, seed, threads, output):
    torch.set_num_threads(threads)
    adata = cluster_latent(read_h5ad(latent_path), seed=seed, n_jobs=threads, **params)
    write_h5ad(record_step(adata, "cluster", {**params, "seed": seed}), output)


def differential_accessibility_tables(clustered_path, model_dir, params, device, seed, threads, output_dir, combined_output):
    torch.set_num_threads(threads)
    adata = read_h5ad(clustered_path)
    model = PoissonVI.load(model_dir, adata, device)
    comparisons = cluster_comparisons(adata.obs, "leiden", params["cluster_mode"])
    comparisons += configured_comparisons(adata.obs, params["comparisons"])
    settings = DASettings(seed=seed, **{k: v for k, v in params.items() if k not in ("cluster_mode", "comparisons")})
    tables = differential_accessibility(
        model_accessibility_blocks(model, adata, settings), adata.X, adata.var_names, comparisons, settings, model.device
    )
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    for name, table in tables.items():
        write_tsv(table, output_dir / f"{name}.tsv")
        log.info("%s: %d of %d regions called at posterior expected FDR <= %s", name,
                 table[f"is_da_fdr_{settings.fdr_target}"].sum(), len(table), settings.fdr_target)
    write_tsv(pd.concat(tables.values()), combined_output)


def plot_training(history_path, description_path, output):
    history = pd.read_csv(history_path, sep="\t")
    best_epoch = json.loads(Path(description_path).read_text())["training"]["best_epoch"]
    with atomic_path(output) as temporary:
        plots.plot_training_history(history, best_epoch, temporary)


def plot_umap(clustered_path, columns, output):
    adata = read_h5ad(clustered_path)
    missing = [column for column in columns if column not in adata.obs]
    if missing:
        raise InputError(f"config plots.umap_columns: {missing} not in the cells' annotation {list(adata.obs.columns)}")
    with atomic_path(output) as temporary:
        plots.plot_umap(adata, ["leiden", *columns], temporary)


def plot_da(clustered_path, combined_path, n_top_regions, dotplot_output, umap_output):
    adata = read_h5ad(clustered_path)
    combined = pd.read_csv(combined_path, sep="\t", index_col="region")
    clusters = combined[(combined["groupby"] == "leiden") & (combined["group2"] == "rest")]
    tables = {name: table for name, table in clusters.groupby("comparison", sort=False)}
    with atomic_path(dotplot_output) as temporary:
        plots.plot_top_regions_dotplot(tables, n_top_regions, temporary)
    with atomic_path(umap_output) as temporary:
        top_region_of = {name: table.index[0] for name, table in list(tables.items())[:12]}
        plots.plot_umap_region_fragments(adata, top_region_of, temporary)
