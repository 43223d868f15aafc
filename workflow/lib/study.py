"""A study: the samples of one sheet as one set of cells.

A Cell Ranger ATAC `aggr` output is read as the libraries it holds (`expand_aggregations`). Cell names are
`<sample>#<barcode>` (ArchR's convention), unique across samples even where 10x barcodes repeat;
`obs["barcode"]` keeps the barcode as the matrix has it, which is what `cell_metadata` tables join on.
`obs["sample"]` names the sample, and every extra column of the sheet is a sample-level annotation copied onto
that sample's cells.
"""

import re

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .errors import InputError

SAMPLE_KEY, BARCODE_KEY = "sample", "barcode"
CELL_NAME_SEPARATOR = "#"
# what the sheet says about files, not annotation
SHEET_COLUMNS = ("sample", "path", "fragments", "barcodes", "cell_metadata", "aggregation_csv", "barcode_suffix",
                 "sha256", "fragments_sha256", "barcodes_sha256")
# Cell Ranger's own columns of an aggr CSV (ATAC and ARC); any other column is sample-level annotation
AGGREGATION_FILE_COLUMNS = ("library_id", "fragments", "cells", "peaks", "atac_fragments", "per_barcode_metrics",
                            "gex_molecule_info")
SAMPLE_NAME = re.compile(r"^[A-Za-z0-9._-]+$")


def expand_aggregations(sheet):
    """A row whose `aggregation_csv` names the CSV of a Cell Ranger ATAC `aggr` run (its matrix in `path`, barcodes
    ending in -1, -2, ...) becomes one row per library: sample = the CSV's library_id, barcode_suffix = -N for its
    N-th library, and the CSV's extra columns as the library's annotation. Other rows stay as they are."""
    if "aggregation_csv" not in sheet.columns or not (sheet["aggregation_csv"] != "").any():
        return sheet.assign(barcode_suffix="")
    rows = []
    for row in sheet.to_dict("records"):
        if not row["aggregation_csv"]:
            rows.append({**row, "barcode_suffix": ""})
            continue
        for number, library in enumerate(_aggregation_libraries(row["aggregation_csv"]), start=1):
            rows.append({**row, **library, "barcode_suffix": f"-{number}"})
    return pd.DataFrame(rows).fillna("")


def _aggregation_libraries(path):
    """The libraries of an aggr CSV, in order: {"sample": library_id, annotation column: value}."""
    try:
        table = pd.read_csv(path, dtype=str).fillna("")
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as error:
        raise InputError(f"aggregation_csv {path}: cannot be read as a CSV ({error})") from None
    if "library_id" not in table.columns or table.empty:
        raise InputError(f"aggregation_csv {path}: found columns {list(table.columns)} and {len(table)} rows; expected "
                         "Cell Ranger's aggr CSV with a library_id column, one row per library")
    bad = [name for name in table["library_id"] if not SAMPLE_NAME.match(name)]
    if bad:
        raise InputError(f"aggregation_csv {path}: library_id {bad[0]!r} cannot name a sample; expected letters, digits, "
                         "'.', '_' and '-'")
    overriding = [column for column in table.columns if column in SHEET_COLUMNS and column not in
                  AGGREGATION_FILE_COLUMNS]  # Cell Ranger's own columns (its per-library fragments) are not read
    if overriding:
        raise InputError(f"aggregation_csv {path}: columns {overriding} would override the sample sheet's; rename them")
    annotation = [column for column in table.columns if column not in AGGREGATION_FILE_COLUMNS]
    return [{"sample": library["library_id"], **{column: library[column] for column in annotation}}
            for library in table.to_dict("records")]


def cells_of_library(adata, barcode_suffix, path):
    """The cells of one library of an aggr matrix: barcodes ending in its suffix (-N)."""
    keep = adata.obs_names.str.endswith(barcode_suffix)
    if not keep.any():
        raise InputError(f"{path}: no barcode ends in {barcode_suffix!r}; expected the aggr matrix of the libraries "
                         "listed in aggregation_csv, in order")
    return adata[keep].copy()


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


def join_samples(samples):
    """One AnnData of all samples' cells. Samples share their regions (a common peak set), or, for genome tiles,
    each holds the tiles its cells touch: the regions are then the union, a tile a sample lacks counting 0 there
    (every sample has the same tile grid, so that zero is real)."""
    import anndata as ad

    all_regions = pd.concat([adata.var[["chrom", "start", "end"]] for adata in samples.values()])
    regions = all_regions[~all_regions.index.duplicated()]  # in order of first appearance
    blocks = []
    for adata in samples.values():
        counts, columns = sp.csr_matrix(adata.X), regions.index.get_indexer(adata.var_names)
        block = sp.csr_matrix((counts.data.astype(np.int32), columns[counts.indices], counts.indptr),
                              shape=(adata.n_obs, len(regions)))
        block.sort_indices()
        blocks.append(block)
    obs = pd.concat([adata.obs for adata in samples.values()])
    for column in obs.columns:
        if obs[column].dtype == object:
            obs[column] = obs[column].astype("category")
    joint = ad.AnnData(X=sp.vstack(blocks, format="csr"), obs=obs, var=regions.copy())
    joint.uns["fragment_conversion"] = {name: dict(adata.uns.get("fragment_conversion", {}))
                                        for name, adata in samples.items()}
    return joint


def _fragment_qc_summary(obs):
    """Per-sample medians of the fragment QC, and the duplicate fraction 1 - unique fragments / reads (samples with
    a fragments file only)."""
    if "n_unique_fragments" not in obs:
        return {}
    reads = obs["n_reads"].sum()
    return {"median_unique_fragments": float(obs["n_unique_fragments"].median()),
            "median_frip": float(obs["frip"].median()),
            "median_nucleosome_signal": float(obs["nucleosome_signal"].median()),
            "duplicate_fraction": float(1 - obs["n_unique_fragments"].sum() / reads) if reads else float("nan")}


def merge_statistics(samples, n_candidate_regions, n_regions):
    """Per sample: cells, its own peaks (none for a fragments file without a matrix), the study's candidate and
    kept regions, its peaks inside kept regions and dropped, and the fraction of its fragments in the kept
    regions."""
    rows = [{"sample": name, "n_cells": adata.n_obs, "n_merged_regions": n_candidate_regions,
             "n_regions_kept": n_regions, **adata.uns["regions"], **_fragment_qc_summary(adata.obs)}
            for name, adata in samples.items()]
    columns = ["sample", "n_cells", "n_peaks", "n_merged_regions", "n_regions_kept", "n_peaks_in_kept_regions",
               "n_peaks_dropped", "fraction_of_fragments_kept", "median_unique_fragments", "median_frip",
               "median_nucleosome_signal", "duplicate_fraction"]
    return pd.DataFrame(rows).reindex(columns=columns).set_index("sample")
