"""Read Cell Ranger ATAC peak-barcode matrices (mtx folder or HDF5) into a cells x regions AnnData.

The result has a sparse CSR `X` of integer counts, `obs` indexed by barcode and `var` indexed by
`chrom:start-end` with `chrom`, `start`, `end` columns (0-based BED starts).

Input is checked, not trusted: a truncated or corrupt file, sizes that disagree, a malformed line or an
inconsistent HDF5 array raises one InputError naming the file (and line), what was found and what was expected.
Windows line endings and blank lines in text files are accepted and read as Unix ones.
"""

import gzip
import re
import warnings
import zlib
from contextlib import contextmanager
from pathlib import Path

import anndata as ad
import h5py
import numpy as np
import pandas as pd
import scipy.sparse as sp

from .errors import InputError

MTX_FILES = ("matrix.mtx", "barcodes.tsv", "peaks.bed")
MTX_BANNERS = ("%%matrixmarket matrix coordinate integer general", "%%matrixmarket matrix coordinate real general")
MTX_SIZE_LINE = re.compile(r"\s*(\d+)\s+(\d+)\s+(\d+)\s*", re.ASCII)
BED_LINE = re.compile(r"(\S+)\t(\d+)\t(\d+)(\t.*)?", re.ASCII)
H5_DATASETS = ("data", "indices", "indptr", "shape", "barcodes", "features/id")
REGION_ID = re.compile(r"^(?P<chrom>[^:\-\s]+)[:\-](?P<start>\d+)-(?P<end>\d+)$")
MAX_COUNT = np.iinfo(np.int32).max


def read_peak_matrix(path):
    """Read a `filtered_peak_bc_matrix/` folder or a Cell Ranger (ATAC or ARC) `.h5` file."""
    path = Path(path)
    if not path.exists():
        raise InputError(
            f"{path}: no such file or folder; expected a Cell Ranger ATAC filtered_peak_bc_matrix/ folder "
            "(matrix.mtx, barcodes.tsv, peaks.bed, each optionally .gz) or a filtered_peak_bc_matrix.h5 file"
        )
    counts, barcodes, regions = _read_mtx_folder(path) if path.is_dir() else _read_h5(path)
    obs = pd.DataFrame(index=pd.Index(barcodes, name="barcode"))
    regions.index.name = "region"
    return ad.AnnData(X=counts, obs=obs, var=regions)


def _find(folder, name):
    for candidate in (folder / name, folder / f"{name}.gz"):
        if candidate.exists():
            return candidate
    raise InputError(f"{folder}: missing {name} (or {name}.gz); a Cell Ranger mtx folder holds {', '.join(MTX_FILES)}")


def _open_text(path):
    return gzip.open(path, "rt", encoding="utf-8") if path.suffix == ".gz" else open(path, encoding="utf-8")


@contextmanager
def _reading(path):
    """Report a file that cannot be read, decompressed or decoded as one InputError naming it."""
    try:
        yield
    except EOFError as error:
        raise InputError(f"{path}: truncated ({error}); expected a complete gzip file") from None
    except (gzip.BadGzipFile, zlib.error) as error:
        raise InputError(f"{path}: not valid gzip data ({error}); expected gzip, as the name ends in .gz") from None
    except UnicodeDecodeError as error:
        raise InputError(f"{path}: binary data, not text ({error}); expected UTF-8 text lines") from None
    except OSError as error:
        raise InputError(f"{path}: cannot be read ({error})") from None


def _read_mtx_folder(folder):
    matrix_path, barcodes_path, peaks_path = (_find(folder, name) for name in MTX_FILES)
    barcodes = _read_barcodes(barcodes_path)
    regions = read_peaks_bed(peaks_path)
    counts = _read_matrix_market(matrix_path)
    n_cells, n_regions = counts.shape
    if n_regions != len(regions):
        raise InputError(
            f"{matrix_path}: {n_regions} rows (regions) but {peaks_path} has {len(regions)} lines; "
            "expected one peaks.bed line per matrix row"
        )
    if n_cells != len(barcodes):
        raise InputError(
            f"{matrix_path}: {n_cells} columns (cells) but {barcodes_path} has {len(barcodes)} lines; "
            "expected one barcode per matrix column"
        )
    return counts, barcodes, regions


def _read_matrix_market(path):
    """Regions x cells Matrix Market entries as a cells x regions CSR matrix.

    Read strictly with numpy rather than scipy.io.mmread, which silently truncates `4.5` to 4 in an integer
    file, ignores extra fields on a line and treats `pattern` files as all ones.
    """
    with _reading(path):
        n_rows, n_columns, n_entries, field, header_lines = _mtx_header(path)
        dtype = [("row", np.int64), ("column", np.int64), ("value", np.int64 if field == "integer" else np.float64)]
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)  # "input contained no data": reported below
                entries = np.loadtxt(path, dtype=dtype, skiprows=header_lines, comments=None, ndmin=1)
        except ValueError as error:
            raise _bad_entry(path, n_rows, n_columns, field, header_lines, error) from None
        rows, columns = entries["row"], entries["column"]
        if len(entries) and (rows.min() < 1 or rows.max() > n_rows or columns.min() < 1 or columns.max() > n_columns):
            raise _bad_entry(path, n_rows, n_columns, field, header_lines, "index out of range")
    if len(entries) != n_entries:
        raise InputError(
            f"{path}: {len(entries)} entries but the size line (line {header_lines}) declares {n_entries}; "
            "expected one line per entry"
        )
    counts = sp.csr_matrix((entries["value"], (columns - 1, rows - 1)), shape=(n_columns, n_rows))
    return _checked_counts(counts, path)


def _mtx_header(path):
    """(rows, columns, entries, field, number of lines up to the size line) of a coordinate Matrix Market file."""
    with _open_text(path) as handle:
        banner = handle.readline()
        if " ".join(banner.lower().split()) not in MTX_BANNERS:
            raise InputError(
                f"{path} line 1: found {banner.rstrip()[:80]!r}; "
                "expected '%%MatrixMarket matrix coordinate integer general' (or real)"
            )
        for number, line in enumerate(handle, start=2):
            if line.startswith("%") or not line.strip():
                continue
            sizes = MTX_SIZE_LINE.fullmatch(line)
            if not sizes:
                raise InputError(
                    f"{path} line {number}: found {line.rstrip()[:80]!r}; expected the size line 'rows columns entries'"
                )
            return int(sizes[1]), int(sizes[2]), int(sizes[3]), banner.split()[3].lower(), number
    raise InputError(f"{path}: ends after the header; expected the size line 'rows columns entries'")


def _bad_entry(path, n_rows, n_columns, field, header_lines, error):
    """The error for the first entry line that is not `row column value` within the declared size."""
    expected = f"expected 'row column value' with row in 1..{n_rows}, column in 1..{n_columns} and an {field} value"
    with _open_text(path) as handle:
        for number, line in enumerate(handle, start=1):
            if number > header_lines and line.strip() and not _is_entry(line, n_rows, n_columns, field):
                return InputError(f"{path} line {number}: found {line.rstrip()[:80]!r}; {expected}")
    return InputError(f"{path}: {error}; {expected}")


def _is_entry(line, n_rows, n_columns, field):
    try:
        row, column, value = line.split()
        (int if field == "integer" else float)(value)
        return 1 <= int(row) <= n_rows and 1 <= int(column) <= n_columns
    except ValueError:
        return False


def _read_barcodes(path):
    """The first tab-separated field of each non-blank line, each barcode once."""
    with _reading(path), _open_text(path) as handle:
        barcodes = [line.split("\t")[0].strip() for line in handle if line.strip()]
    if not barcodes:
        raise InputError(f"{path}: no barcodes; expected one cell barcode per line")
    _check_unique(pd.Index(barcodes), path, "barcodes")
    return barcodes


def read_peaks_bed(path):
    """Parse `chrom start end [name ...]` lines into a region table indexed by `chrom:start-end`.

    Fields must be tab-separated, as BED specifies: a line separated by spaces is an error naming the line, not
    guessed at. Blank, `#`, `track` and `browser` lines are skipped; each region must appear once.
    """
    rows = []
    with _reading(path), _open_text(path) as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip() or line.startswith(("#", "track", "browser")):
                continue
            fields = BED_LINE.fullmatch(line.rstrip())
            if not fields or int(fields[2]) >= int(fields[3]):
                raise InputError(
                    f"{path} line {number}: found {line.rstrip()[:80]!r}; expected tab-separated chrom, start, end "
                    "with integer start < end"
                )
            rows.append((fields[1], int(fields[2]), int(fields[3])))
    if not rows:
        raise InputError(f"{path}: no regions; expected one tab-separated chrom, start, end line per peak")
    regions = _region_table(rows)
    _check_unique(regions.index, path, "regions")
    return regions


def _region_table(rows):
    regions = pd.DataFrame(rows, columns=["chrom", "start", "end"])
    regions.index = regions["chrom"] + ":" + regions["start"].astype(str) + "-" + regions["end"].astype(str)
    return regions


def _read_h5(path):
    try:
        with h5py.File(path, "r") as handle:
            missing = [f"matrix/{name}" for name in H5_DATASETS if f"matrix/{name}" not in handle]
            if missing:
                raise InputError(
                    f"{path}: no {', '.join(missing)}; expected a Cell Ranger HDF5 matrix with datasets "
                    f"{', '.join('matrix/' + name for name in H5_DATASETS)}"
                )
            group = handle["matrix"]
            data, indices, indptr, shape = (group[name][()] for name in ("data", "indices", "indptr", "shape"))
            barcodes = [b.decode() for b in group["barcodes"][()]]
            ids = [f.decode() for f in group["features/id"][()]]
            has_types = "features/feature_type" in group
            types = [t.decode() for t in group["features/feature_type"][()]] if has_types else ["Peaks"] * len(ids)
    except (OSError, KeyError) as error:
        raise InputError(
            f"{path}: not a readable HDF5 file ({error}); expected a Cell Ranger filtered_peak_bc_matrix.h5"
        ) from None
    _check_csc(path, data, indices, indptr, shape, len(barcodes), len(ids))
    if len(types) != len(ids):
        raise InputError(
            f"{path}: {len(types)} matrix/features/feature_type values; expected {len(ids)}, one per feature"
        )
    keep = np.flatnonzero(np.asarray(types) == "Peaks")
    if keep.size == 0:
        raise InputError(f"{path}: no features of type 'Peaks' (found types {sorted(set(types))})")
    regions = _region_table([_parse_region_id(ids[i], path) for i in keep])
    _check_unique(pd.Index(barcodes), path, "barcodes")
    _check_unique(regions.index, path, "regions")
    matrix = sp.csc_matrix((data, indices, indptr), shape=tuple(shape))
    return _checked_counts(sp.csr_matrix(matrix[keep, :].T), path), barcodes, regions


def _check_csc(path, data, indices, indptr, shape, n_barcodes, n_features):
    """Check the features x cells CSC arrays before scipy sees them: scipy silently accepts an indptr that ends
    early or decreases and indices beyond the shape (reading past its arrays)."""
    if shape.shape != (2,):
        raise InputError(f"{path}: matrix/shape is {shape.tolist()}; expected two values (features, cells)")
    if not (np.issubdtype(indices.dtype, np.integer) and np.issubdtype(indptr.dtype, np.integer)):
        raise InputError(f"{path}: matrix/indices and indptr are {indices.dtype} and {indptr.dtype}; expected integers")
    n_rows, n_columns = (int(n) for n in shape)
    if (n_rows, n_columns) != (n_features, n_barcodes):
        raise InputError(
            f"{path}: matrix/shape is {n_rows} features x {n_columns} cells but there are {n_features} "
            f"matrix/features/id and {n_barcodes} matrix/barcodes; expected the same counts"
        )
    if len(indptr) != n_columns + 1:
        raise InputError(f"{path}: matrix/indptr has {len(indptr)} values; expected {n_columns + 1} (cells + 1)")
    if indptr[0] != 0 or np.any(np.diff(indptr) < 0):
        raise InputError(f"{path}: matrix/indptr starts at {indptr[0]} or decreases; expected non-decreasing from 0")
    if not indptr[-1] == len(indices) == len(data):
        raise InputError(
            f"{path}: matrix/indptr ends at {indptr[-1]}, matrix/indices has {len(indices)} and matrix/data "
            f"{len(data)} values; expected all three equal (the number of stored counts)"
        )
    if len(indices) and (indices.min() < 0 or indices.max() >= n_rows):
        raise InputError(
            f"{path}: matrix/indices range from {indices.min()} to {indices.max()}; expected 0 to {n_rows - 1} "
            "(the features of matrix/shape)"
        )


def _parse_region_id(region_id, path):
    match = REGION_ID.match(region_id)
    if not match:
        raise InputError(f"{path}: peak feature id {region_id!r} is not of the form chrom:start-end")
    return match["chrom"], int(match["start"]), int(match["end"])


def _checked_counts(counts, path):
    """`counts` as int32, after checking that every value is a non-negative integer that fits."""
    values = counts.data
    if values.size and values.min() < 0:
        raise InputError(
            f"{path}: {int((values < 0).sum())} negative counts (smallest {values.min()}); expected counts >= 0"
        )
    if values.size and not np.all(np.mod(values, 1) == 0):
        bad = values[np.mod(values, 1) != 0]
        raise InputError(
            f"{path}: {bad.size} non-integer counts (e.g. {bad[0]}); expected integer read or fragment counts"
        )
    if values.size and values.max() > MAX_COUNT:
        raise InputError(f"{path}: a count of {values.max()}; expected counts up to {MAX_COUNT} (int32)")
    counts.data = values.astype(np.int32)
    counts.eliminate_zeros()
    counts.sum_duplicates()
    return counts


def _check_unique(names, path, what):
    duplicated = names[names.duplicated()].unique()
    if len(duplicated):
        raise InputError(f"{path}: {len(duplicated)} duplicated {what} (e.g. {duplicated[0]!r}); expected each once")
