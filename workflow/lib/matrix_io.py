"""Read Cell Ranger ATAC peak-barcode matrices (mtx folder or HDF5) into a cells x regions AnnData.

The result has a sparse CSR `X` of integer counts, `obs` indexed by barcode and `var` indexed by
`chrom:start-end` with `chrom`, `start`, `end` columns (0-based BED starts).
"""

import gzip
import re
from pathlib import Path

import anndata as ad
import h5py
import numpy as np
import pandas as pd
import scipy.io
import scipy.sparse as sp

from .errors import InputError

MTX_FILES = ("matrix.mtx", "barcodes.tsv", "peaks.bed")
REGION_ID = re.compile(r"^(?P<chrom>[^:\-\s]+)[:\-](?P<start>\d+)-(?P<end>\d+)$")


def read_peak_matrix(path):
    """Read a `filtered_peak_bc_matrix/` folder or a Cell Ranger (ATAC or ARC) `.h5` file."""
    path = Path(path)
    if not path.exists():
        raise InputError(
            f"{path}: no such file or folder; expected a Cell Ranger ATAC filtered_peak_bc_matrix/ folder "
            "(matrix.mtx, barcodes.tsv, peaks.bed, each optionally .gz) or a filtered_peak_bc_matrix.h5 file"
        )
    counts, barcodes, regions = _read_mtx_folder(path) if path.is_dir() else _read_h5(path)
    _check_counts(counts, path)
    _check_unique(pd.Index(barcodes), path, "barcodes")
    _check_unique(regions.index, path, "regions")
    obs = pd.DataFrame(index=pd.Index(barcodes, name="barcode"))
    regions.index.name = "region"
    return ad.AnnData(X=counts, obs=obs, var=regions)


def _find(folder, name):
    for candidate in (folder / name, folder / f"{name}.gz"):
        if candidate.exists():
            return candidate
    raise InputError(f"{folder}: missing {name} (or {name}.gz); a Cell Ranger mtx folder holds {', '.join(MTX_FILES)}")


def _open_text(path):
    return gzip.open(path, "rt") if path.suffix == ".gz" else open(path)


def _read_mtx_folder(folder):
    matrix_path, barcodes_path, peaks_path = (_find(folder, name) for name in MTX_FILES)
    try:
        matrix = scipy.io.mmread(matrix_path)
    except (ValueError, OSError) as error:
        raise InputError(f"{matrix_path}: not a readable Matrix Market file ({error})") from None
    with _open_text(barcodes_path) as handle:
        barcodes = [line.rstrip("\n").split("\t")[0] for line in handle if line.strip()]
    regions = read_peaks_bed(peaks_path)
    n_regions, n_cells = matrix.shape
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
    return sp.csr_matrix(matrix.T), barcodes, regions


def read_peaks_bed(path):
    """Parse `chrom start end [name ...]` lines into a region table indexed by `chrom:start-end`."""
    rows = []
    with _open_text(path) as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip() or line.startswith(("#", "track", "browser")):
                continue
            fields = line.rstrip("\n").split("\t")
            if len(fields) < 3 or not fields[1].isdigit() or not fields[2].isdigit() or int(fields[1]) >= int(fields[2]):
                raise InputError(
                    f"{path} line {number}: found {line.rstrip()!r}; expected tab-separated chrom, start, end "
                    "with integer start < end"
                )
            rows.append((fields[0], int(fields[1]), int(fields[2])))
    return _region_table(rows)


def _region_table(rows):
    regions = pd.DataFrame(rows, columns=["chrom", "start", "end"])
    regions.index = regions["chrom"] + ":" + regions["start"].astype(str) + "-" + regions["end"].astype(str)
    return regions


def _read_h5(path):
    try:
        with h5py.File(path, "r") as handle:
            group = handle["matrix"]
            shape = tuple(group["shape"][()])
            matrix = sp.csc_matrix(
                (group["data"][()], group["indices"][()], group["indptr"][()]), shape=shape
            )
            barcodes = [b.decode() for b in group["barcodes"][()]]
            ids = [f.decode() for f in group["features/id"][()]]
            features = group["features"]
            types = [t.decode() for t in features["feature_type"][()]] if "feature_type" in features else ["Peaks"] * len(ids)
    except (OSError, KeyError) as error:
        raise InputError(
            f"{path}: not a Cell Ranger HDF5 matrix ({error}); expected groups matrix/data, indices, indptr, "
            "shape, barcodes, features/id"
        ) from None
    keep = np.flatnonzero(np.asarray(types) == "Peaks")
    if keep.size == 0:
        raise InputError(f"{path}: no features of type 'Peaks' (found types {sorted(set(types))})")
    regions = _region_table([_parse_region_id(ids[i], path) for i in keep])
    return sp.csr_matrix(matrix[keep, :].T), barcodes, regions


def _parse_region_id(region_id, path):
    match = REGION_ID.match(region_id)
    if not match:
        raise InputError(f"{path}: peak feature id {region_id!r} is not of the form chrom:start-end")
    return match["chrom"], int(match["start"]), int(match["end"])


def _check_counts(counts, path):
    values = counts.data
    if values.size and values.min() < 0:
        raise InputError(f"{path}: {int((values < 0).sum())} negative counts (smallest {values.min()}); expected counts >= 0")
    if values.size and not np.all(np.mod(values, 1) == 0):
        bad = values[np.mod(values, 1) != 0]
        raise InputError(f"{path}: {bad.size} non-integer counts (e.g. {bad[0]}); expected integer read or fragment counts")
    counts.data = values.astype(np.int32)
    counts.eliminate_zeros()
    counts.sum_duplicates()


def _check_unique(names, path, what):
    duplicated = names[names.duplicated()].unique()
    if len(duplicated):
        raise InputError(f"{path}: {len(duplicated)} duplicated {what} (e.g. {duplicated[0]!r}); expected each once")
