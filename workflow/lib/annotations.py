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
