"""Rule differential_accessibility: every cluster against the rest, plus the configured comparisons."""

import logging

import torch

from ..comparisons import cluster_comparisons, configured_comparisons
from ..keys import CLUSTER_KEY
from ..da import DASettings, differential_accessibility, model_accessibility_blocks
from ..model import PoissonVI
from ..study import SAMPLE_KEY
from .files import read_h5ad, write_tsv_tables

log = logging.getLogger("atacflow")


def differential_accessibility_tables(clusters_path, model_dir, params, device, seed, threads, output_dir, combined_output):
    torch.set_num_threads(threads)
    adata = read_h5ad(clusters_path)
    model = PoissonVI.load(model_dir, adata, device)
    comparisons = cluster_comparisons(adata.obs, CLUSTER_KEY, params["cluster_mode"])
    comparisons += configured_comparisons(adata.obs, params["comparisons"])
    settings = DASettings(seed=seed, **{k: v for k, v in params.items() if k not in ("cluster_mode", "comparisons")})
    batch_corrected = settings.batch_correction and len(model.batch_categories) > 1
    log.info("accessibility %s", f"averaged over the {len(model.batch_categories)} batches of {model.batch_key!r}"
             if batch_corrected else "decoded with each cell's own batch" if model.batch_categories else
             "of a model without batches")
    tables = differential_accessibility(
        model_accessibility_blocks(model, adata, settings), adata.X, adata.var_names, comparisons, settings,
        model.device, adata.obs[SAMPLE_KEY].astype(str).to_numpy(), batch_corrected,
    )
    for name, table in tables.items():
        log.info("%s: %d of %d regions called at posterior expected FDR <= %s", name,
                 table[f"is_da_fdr_{settings.fdr_target}"].sum(), len(table), settings.fdr_target)
    write_tsv_tables(tables, output_dir, combined_output)
