"""Quality filtering: regions detected in enough cells, cells with enough fragments and regions."""

import logging

import numpy as np
import pandas as pd

from .errors import InputError

log = logging.getLogger(__name__)


def filter_cells_and_regions(adata, min_region_cell_fraction, min_cell_fragments, min_cell_regions, source="input"):
    """Keep regions detected (>= 1 fragment) in at least int(min_region_cell_fraction * n_cells) cells (the
    PoissonVI tutorial's rule), then cells
    with at least `min_cell_fragments` fragments and `min_cell_regions` detected regions in the kept regions.

    Returns the filtered AnnData and a table of the numbers before and after each step.
    """
    counts = adata.X.tocsr()
    stats = [_stats("input", counts)]
    keep_regions = np.diff(counts.tocsc().indptr) >= int(min_region_cell_fraction * counts.shape[0])
    adata = adata[:, keep_regions].copy()
    stats.append(_stats("regions_filtered", adata.X))
    fragments_per_cell = np.asarray(adata.X.sum(axis=1)).ravel()
    regions_per_cell = np.diff(adata.X.indptr)
    keep_cells = (fragments_per_cell >= min_cell_fragments) & (regions_per_cell >= min_cell_regions)
    adata = adata[keep_cells, :].copy()
    stats.append(_stats("cells_filtered", adata.X))
    table = pd.DataFrame(stats).set_index("step")
    for step, row in table.iterrows():
        log.info("%s: %d cells, %d regions, %d fragments", step, row["n_cells"], row["n_regions"], row["n_fragments"])
    if adata.n_obs < 2 or adata.n_vars < 2:
        raise InputError(
            f"{source}: after filtering {adata.n_obs} cells and {adata.n_vars} regions remain (from {stats[0]['n_cells']} "
            f"cells, {stats[0]['n_regions']} regions); expected at least 2 of each: lower filter.min_region_cell_fraction "
            f"({min_region_cell_fraction}), filter.min_cell_fragments ({min_cell_fragments}) or "
            f"filter.min_cell_regions ({min_cell_regions})"
        )
    adata.obs["n_fragments"] = np.asarray(adata.X.sum(axis=1)).ravel().astype(np.int64)
    adata.obs["n_regions"] = np.diff(adata.X.indptr).astype(np.int64)
    adata.var["fraction_cells_detected"] = np.diff(adata.X.tocsc().indptr) / adata.n_obs
    adata.uns["filtering"] = {
        "min_region_cell_fraction": min_region_cell_fraction,
        "min_cell_fragments": min_cell_fragments,
        "min_cell_regions": min_cell_regions,
    }
    return adata, table


def _stats(step, counts):
    return {"step": step, "n_cells": counts.shape[0], "n_regions": counts.shape[1], "n_fragments": int(counts.sum())}
