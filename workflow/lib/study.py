"""A study: the samples of one sheet as one set of cells.

Cell names are `<sample>#<barcode>` (ArchR's convention), unique across samples even where 10x barcodes repeat;
`obs["barcode"]` keeps the barcode as the matrix has it, which is what `cell_metadata` tables join on.
`obs["sample"]` names the sample, and every extra column of the sheet is a sample-level annotation copied onto
that sample's cells.
"""

import numpy as np
import pandas as pd
import scipy.sparse as sp

SAMPLE_KEY, BARCODE_KEY = "sample", "barcode"
CELL_NAME_SEPARATOR = "#"
SHEET_COLUMNS = ("sample", "path", "cell_metadata")  # what the sheet says about files, not annotation


def label_cells(adata, sample, sample_annotation):
    """Name cells `<sample>#<barcode>` and add `sample`, `barcode` and the sheet's annotation columns (in place)."""
    barcodes = adata.obs_names.astype(str)
    adata.obs.insert(0, SAMPLE_KEY, pd.Categorical([sample] * adata.n_obs))
    adata.obs.insert(1, BARCODE_KEY, barcodes)
    for column, value in sample_annotation.items():
        adata.obs[column] = pd.Categorical([value] * adata.n_obs)
    adata.obs_names = sample + CELL_NAME_SEPARATOR + barcodes
    adata.obs_names.name = "cell"
    return adata


def join_samples(samples, regions, assignment):
    """One AnnData of all samples' cells over the common `regions`: sample s's counts x_s @ A_s, with A_s its 0/1
    peaks x regions assignment (peak_merge.common_regions)."""
    import anndata as ad

    blocks = [sp.csr_matrix(adata.X @ assignment[name]) for name, adata in samples.items()]
    counts = sp.vstack(blocks, format="csr")
    counts.data = np.rint(counts.data).astype(np.int32)
    obs = pd.concat([adata.obs for adata in samples.values()])
    for column in obs.columns:
        if obs[column].dtype == object:
            obs[column] = obs[column].astype("category")
    joint = ad.AnnData(X=counts, obs=obs, var=regions.copy())
    joint.uns["fragment_conversion"] = {name: dict(adata.uns.get("fragment_conversion", {}))
                                        for name, adata in samples.items()}
    return joint


def merge_statistics(samples, assignment, n_candidate_regions):
    """Per sample: peaks in, candidate (merged) regions, regions kept, peaks inside kept regions, peaks dropped,
    and the fraction of the sample's fragments that the kept regions hold."""
    rows = []
    for name, adata in samples.items():
        kept_peaks = np.asarray(assignment[name].sum(axis=1)).ravel() > 0
        total = float(adata.X.sum())
        kept = float(adata.X[:, kept_peaks].sum())
        rows.append({
            "sample": name, "n_cells": adata.n_obs, "n_peaks": adata.n_vars, "n_merged_regions": n_candidate_regions,
            "n_regions_kept": assignment[name].shape[1], "n_peaks_in_kept_regions": int(kept_peaks.sum()),
            "n_peaks_dropped": int((~kept_peaks).sum()), "fraction_of_fragments_kept": kept / total if total else 0.0,
        })
    return pd.DataFrame(rows).set_index("sample")
