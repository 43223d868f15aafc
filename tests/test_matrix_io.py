"""Reading Cell Ranger ATAC matrices: mtx folders, HDF5 (ATAC and ARC), and bad input."""

import gzip
import shutil

import h5py
import numpy as np
import pytest

from atacflow.errors import InputError
from atacflow.matrix_io import read_peak_matrix
from conftest import PBMC_H5, PBMC_MTX, SIGNAC


def test_mtx_folder_is_cells_by_regions_with_coordinates():
    adata = read_peak_matrix(SIGNAC)
    assert adata.shape == (100, 323)
    assert adata.X.nnz == 4269
    assert adata.X.max() == 88
    assert adata.var_names[0] == "chr1:713460-714823"
    assert list(adata.var.columns) == ["chrom", "start", "end"]
    assert (adata.var["end"] > adata.var["start"]).all()


def test_h5_and_mtx_folder_of_the_same_data_give_the_same_matrix():
    from_h5, from_mtx = read_peak_matrix(PBMC_H5), read_peak_matrix(PBMC_MTX)
    assert from_h5.shape == (90, 1308)
    assert list(from_h5.obs_names) == list(from_mtx.obs_names)
    assert list(from_h5.var_names) == list(from_mtx.var_names)
    assert (from_h5.X != from_mtx.X).nnz == 0
    assert from_h5.X.nnz == 10419


def test_arc_h5_keeps_only_peaks(tmp_path):
    """A multiome .h5 lists genes and peaks; only the Peaks features are read."""
    arc = tmp_path / "arc.h5"
    shutil.copy(PBMC_H5, arc)
    with h5py.File(arc, "r+") as handle:
        group = handle["matrix"]
        n_peaks, n_cells = group["shape"][()]
        data, indices, indptr = group["data"][()], group["indices"][()], group["indptr"][()]
        # one extra gene feature (index n_peaks) with 5 counts in every cell, appended per column
        new_data, new_indices, new_indptr = [], [], [0]
        for cell in range(n_cells):
            new_data += list(data[indptr[cell]:indptr[cell + 1]]) + [5.0]
            new_indices += list(indices[indptr[cell]:indptr[cell + 1]]) + [n_peaks]
            new_indptr.append(len(new_data))
        for name, values in (("data", new_data), ("indices", new_indices), ("indptr", new_indptr)):
            del group[name]
            group[name] = np.asarray(values)
        group["shape"][...] = [n_peaks + 1, n_cells]
        for field, value in (("id", b"ENSG00000000001"), ("feature_type", b"Gene Expression")):
            values = list(group["features"][field][()]) + [value]
            del group["features"][field]
            group["features"][field] = np.asarray(values)
    adata = read_peak_matrix(arc)
    assert adata.shape == (90, 1308)
    assert (adata.X != read_peak_matrix(PBMC_H5).X).nnz == 0


def _rewrite(path, transform):
    with gzip.open(path, "rt") as handle:
        lines = handle.readlines()
    with gzip.open(path, "wt") as handle:
        handle.writelines(transform(lines))


def test_missing_path_names_it(tmp_path):
    with pytest.raises(InputError, match="no such file or folder.*filtered_peak_bc_matrix"):
        read_peak_matrix(tmp_path / "nowhere")


def test_missing_file_in_folder(signac_copy):
    (signac_copy / "barcodes.tsv.gz").unlink()
    with pytest.raises(InputError, match="missing barcodes.tsv"):
        read_peak_matrix(signac_copy)


def test_shape_disagreeing_with_peaks(signac_copy):
    _rewrite(signac_copy / "peaks.bed.gz", lambda lines: lines[:-1])
    with pytest.raises(InputError, match="323 rows.*has 322 lines"):
        read_peak_matrix(signac_copy)


def test_shape_disagreeing_with_barcodes(signac_copy):
    _rewrite(signac_copy / "barcodes.tsv.gz", lambda lines: lines + ["EXTRA-1\n"])
    with pytest.raises(InputError, match="100 columns.*has 101 lines"):
        read_peak_matrix(signac_copy)


def _set_first_value(lines, value):
    header_end = next(i for i, line in enumerate(lines) if not line.startswith("%")) + 1
    row, column, _ = lines[header_end].split()
    lines[header_end] = f"{row} {column} {value}\n"
    return lines


def test_negative_counts(signac_copy):
    _rewrite(signac_copy / "matrix.mtx.gz", lambda lines: _set_first_value(lines, -3))
    with pytest.raises(InputError, match="1 negative counts.*expected counts >= 0"):
        read_peak_matrix(signac_copy)


def test_non_integer_counts(signac_copy):
    def to_real(lines):
        lines[0] = lines[0].replace("integer", "real")
        return _set_first_value(lines, 1.5)

    _rewrite(signac_copy / "matrix.mtx.gz", to_real)
    with pytest.raises(InputError, match="non-integer counts \\(e.g. 1.5\\)"):
        read_peak_matrix(signac_copy)


def test_duplicated_barcodes(signac_copy):
    _rewrite(signac_copy / "barcodes.tsv.gz", lambda lines: [lines[0]] + lines[:-1])
    with pytest.raises(InputError, match="1 duplicated barcodes"):
        read_peak_matrix(signac_copy)


def test_duplicated_regions(signac_copy):
    _rewrite(signac_copy / "peaks.bed.gz", lambda lines: [lines[0], lines[0]] + lines[2:])
    with pytest.raises(InputError, match="duplicated regions.*chr1:713460-714823"):
        read_peak_matrix(signac_copy)


def test_malformed_peaks_line(signac_copy):
    _rewrite(signac_copy / "peaks.bed.gz", lambda lines: lines[:4] + ["chr1\tabc\t100\n"] + lines[5:])
    with pytest.raises(InputError, match="peaks.bed.gz line 5: found 'chr1\\\\tabc\\\\t100'"):
        read_peak_matrix(signac_copy)
