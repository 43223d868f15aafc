"""Quality filtering: regions detected in enough cells, cells with enough fragments and regions."""

import logging

import numpy as np
import pandas as pd

from .errors import InputError

log = logging.getLogger(__name__)


def filter_cells_and_regions(adata, min_region_cell_fraction, min_cell_fragments, min_cell_regions,
                             min_cell_unique_fragments=0, min_cell_frip=0.0, source="input"):
    """Keep cells whose fragments file gave them at least `min_cell_unique_fragments` unique fragments and a FRiP
    of at least `min_cell_frip` (fragment QC; skipped when both are 0), then regions detected (>= 1 fragment) in at
    least int(min_region_cell_fraction * n_cells) cells (the PoissonVI tutorial's rule), then cells with at least
    `min_cell_fragments` fragments and `min_cell_regions` detected regions in the kept regions.

    Returns the filtered AnnData and a table of the numbers before and after each step.
    """
    stats = [_stats("input", adata.X)]
    if min_cell_unique_fragments or min_cell_frip:
        adata = adata[_passing_fragment_qc(adata.obs, min_cell_unique_fragments, min_cell_frip, source)].copy()
        stats.append(_stats("cells_fragment_qc_filtered", adata.X))
    counts = adata.X.tocsr()
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
            f"({min_region_cell_fraction}), filter.min_cell_fragments ({min_cell_fragments}), "
            f"filter.min_cell_regions ({min_cell_regions}), filter.min_cell_unique_fragments "
            f"({min_cell_unique_fragments}) or filter.min_cell_frip ({min_cell_frip})"
        )
    adata.obs["n_fragments"] = np.asarray(adata.X.sum(axis=1)).ravel().astype(np.int64)
    adata.obs["n_regions"] = np.diff(adata.X.indptr).astype(np.int64)
    adata.var["fraction_cells_detected"] = np.diff(adata.X.tocsc().indptr) / adata.n_obs
    adata.uns["filtering"] = {
        "min_region_cell_fraction": min_region_cell_fraction,
        "min_cell_fragments": min_cell_fragments,
        "min_cell_regions": min_cell_regions,
        "min_cell_unique_fragments": min_cell_unique_fragments,
        "min_cell_frip": min_cell_frip,
    }
    return adata, table


def _passing_fragment_qc(obs, min_unique_fragments, min_frip, source):
    """Cells at or above both fragment-QC thresholds (columns count_fragments adds)."""
    missing = [column for column, threshold in (("n_unique_fragments", min_unique_fragments), ("frip", min_frip))
               if threshold and (column not in obs or obs[column].isna().any())]
    if missing:
        raise InputError(f"{source}: some cells lack {missing[0]!r}; filter.min_cell_unique_fragments and "
                         "filter.min_cell_frip need a fragments file for every sample (and peaks, for FRiP)")
    keep = np.ones(len(obs), dtype=bool)
    if min_unique_fragments:
        keep &= obs["n_unique_fragments"].to_numpy() >= min_unique_fragments
    if min_frip:
        keep &= obs["frip"].to_numpy() >= min_frip
    return keep


def _stats(step, counts):
    return {"step": step, "n_cells": counts.shape[0], "n_regions": counts.shape[1], "n_fragments": int(counts.sum())}
