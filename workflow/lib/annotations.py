"""Cell annotations: a user's cell table (first column the barcode) joined to the cells."""

import pandas as pd

from .errors import InputError


def read_cell_metadata(path, columns=None):
    """A TSV whose first column is the barcode, as strings, indexed by barcode (`columns` limits what is read)."""
    try:
        usecols = None
        if columns is not None:
            header = cell_metadata_header(path)
            usecols = header[:1] + [name for name in header[1:] if name in columns]
        table = pd.read_csv(path, sep="\t", index_col=0, dtype=str, usecols=usecols)
    except (OSError, UnicodeDecodeError, EOFError, pd.errors.ParserError, pd.errors.EmptyDataError) as error:
        raise InputError(f"cell_metadata {path}: cannot be read as a TSV ({error})") from None
    table.index = table.index.astype(str)
    return table


def cell_metadata_header(path):
    """The column names of a cell table, the barcode column first."""
    try:
        return list(pd.read_csv(path, sep="\t", nrows=0).columns)
    except (OSError, UnicodeDecodeError, EOFError, pd.errors.ParserError, pd.errors.EmptyDataError) as error:
        raise InputError(f"cell_metadata {path}: cannot be read as a TSV ({error})") from None


def join_cell_metadata(obs, path):
    """Add the columns of a TSV whose first column is the barcode to the cells' annotation `obs`."""
    metadata = read_cell_metadata(path)
    if metadata.index.duplicated().any():
        duplicated = metadata.index[metadata.index.duplicated()][0]
        raise InputError(f"cell_metadata {path}: barcode {duplicated!r} appears more than once; expected each barcode once")
    matched = obs.index.isin(metadata.index)
    if not matched.any():
        raise InputError(
            f"cell_metadata {path}: none of its {len(metadata)} barcodes (e.g. {list(metadata.index[:2])}) match the "
            f"{len(obs)} cells (e.g. {list(obs.index[:2])}); expected its first column to hold the cells' barcodes"
        )
    clashing = [column for column in metadata.columns if column in obs.columns]
    if clashing:
        raise InputError(f"cell_metadata {path}: columns {clashing} already exist in the cells' annotation; rename them")
    return obs.join(metadata, how="left")


BARCODE_HEADERS = ("barcode", "barcodes", "cell", "cells", "cell_id", "cell_barcode")
CELL_FLAGS = ("is__cell_barcode", "is_cell")  # Cell Ranger ATAC singlecell.csv, Cell Ranger ARC per_barcode_metrics.csv


def read_barcode_list(path):
    """The cell barcodes of a file with one barcode per line, or of a table (tab- or comma-separated) whose first
    column is the barcode: a `cell_metadata` TSV, or Cell Ranger's `singlecell.csv` / `per_barcode_metrics.csv`,
    of which only the rows flagged as cells (`is__cell_barcode` / `is_cell` = 1) are kept. A header is recognised
    by its first field (barcode, cell, ...)."""
    try:
        with open(path, "rb") as handle:
            gzipped = handle.read(2) == b"\x1f\x8b"
        first = pd.read_csv(path, sep="\t", header=None, nrows=1, dtype=str, compression="gzip" if gzipped else None)
        separator = "," if first.shape[1] == 1 and "," in str(first.iloc[0, 0]) else "\t"
        table = pd.read_csv(path, sep=separator, header=None, dtype=str, keep_default_na=False,
                            compression="gzip" if gzipped else None)
    except (OSError, UnicodeDecodeError, EOFError, pd.errors.ParserError, pd.errors.EmptyDataError) as error:
        raise InputError(f"barcodes {path}: cannot be read ({error}); expected one barcode per line or a table whose "
                         "first column is the barcode") from None
    if table.iloc[0, 0].strip().lower() in BARCODE_HEADERS:
        table = table.iloc[1:].set_axis(list(table.iloc[0]), axis=1)
        flag = next((column for column in CELL_FLAGS if column in table.columns), None)
        if flag:
            table = table[table[flag].str.strip() == "1"]
    barcodes = pd.Index(table.iloc[:, 0].str.strip(), name="barcode")
    barcodes = barcodes[barcodes != ""]
    if barcodes.empty:
        raise InputError(f"barcodes {path}: no barcode found; expected one barcode per line or a table whose first "
                         "column is the barcode (rows flagged as cells, where the table flags them)")
    if barcodes.duplicated().any():
        raise InputError(f"barcodes {path}: barcode {barcodes[barcodes.duplicated()][0]!r} appears more than once; "
                         "expected each cell once")
    return barcodes
