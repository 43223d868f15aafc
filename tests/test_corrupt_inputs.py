"""Inputs that lie: copies of the real test matrices, corrupted in many ways. Each is either read exactly as the
clean file (same counts, barcodes and regions) or refused with one InputError naming the corrupted file and
saying what was wrong; never a raw exception, never a wrong matrix. `pytest -s -k corrupt` prints the table."""

import gzip
import logging
import shutil

import h5py
import numpy as np
import pytest

from atacflow.errors import InputError, run_step
from atacflow.matrix_io import read_peak_matrix
from atacflow.steps.read import read_matrix
from conftest import PBMC_H5, PBMC_MTX, SIGNAC, UNANNOTATED, run_snakemake, write_sample_sheet

EXACT = "read exactly"
CLEAN = {}


def _text(name, transform):
    """Corrupt the text of the gzip file `name` in an mtx folder: `transform` maps its lines to new lines."""

    def corrupt(folder):
        path = folder / name
        with gzip.open(path, "rt", newline="") as handle:
            lines = handle.read().splitlines(keepends=True)
        path.write_bytes(gzip.compress("".join(transform(lines)).encode()))
        return path

    return corrupt


def _raw(name, transform):
    """Corrupt the bytes of the file `name` in an mtx folder."""

    def corrupt(folder):
        path = folder / name
        path.write_bytes(transform(path.read_bytes()))
        return path

    return corrupt


def _h5(name, transform):
    """Replace the dataset matrix/`name` of a copied .h5 by `transform(values)`; None deletes it."""

    def corrupt(path):
        with h5py.File(path, "r+") as handle:
            values = transform(handle["matrix"][name][()].copy())
            del handle["matrix"][name]
            if values is not None:
                handle["matrix"][name] = values
        return path

    return corrupt


def _h5_bytes(transform):
    """Corrupt the bytes of a copied .h5 file."""

    def corrupt(path):
        path.write_bytes(transform(path.read_bytes()))
        return path

    return corrupt


def _line(index, text):
    """Lines with line `index` (0-based) replaced by `text`."""
    return lambda lines: lines[:index] + [text] + lines[index + 1 :]


def _insert(index, text):
    return lambda lines: lines[:index] + [text] + lines[index:]


def _set(index, value):
    def transform(values):
        values[index] = value
        return values

    return transform


def _add(index, amount):
    return lambda values: _set(index, values[index] + amount)(values)


GARBAGE = np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes()
CRLF = lambda lines: [line.replace("\n", "\r\n") for line in lines]  # noqa: E731
MTX, BARCODES, PEAKS = "matrix.mtx.gz", "barcodes.tsv.gz", "peaks.bed.gz"

CASES = [
    # Matrix Market file (SIGNAC: 323 regions x 100 cells, 4,269 entries; size line 3, first entry "1 3 2" on line 4)
    ("mtx_truncated_gzip", SIGNAC, _raw(MTX, lambda data: data[: len(data) // 2]), "truncated"),
    ("mtx_not_gzip", SIGNAC, _raw(MTX, gzip.decompress), "not valid gzip data"),
    ("mtx_binary_garbage", SIGNAC, _raw(MTX, lambda data: GARBAGE), "not valid gzip data"),
    ("mtx_gzipped_binary_garbage", SIGNAC, _raw(MTX, lambda data: gzip.compress(GARBAGE)), "binary data, not text"),
    ("mtx_more_entries_than_header", SIGNAC, _text(MTX, lambda lines: lines + ["2 1 1\n"]),
     "4270 entries but the size line (line 3) declares 4269"),
    ("mtx_fewer_entries_than_header", SIGNAC, _text(MTX, lambda lines: lines[:-1]), "4268 entries"),
    ("mtx_row_beyond_shape", SIGNAC, _text(MTX, _line(3, "324 3 2\n")),
     "line 4: found '324 3 2'; expected 'row column value' with row in 1..323, column in 1..100"),
    ("mtx_column_beyond_shape", SIGNAC, _text(MTX, _line(3, "1 101 2\n")), "line 4: found '1 101 2'"),
    ("mtx_index_zero", SIGNAC, _text(MTX, _line(3, "0 3 2\n")), "line 4: found '0 3 2'"),
    ("mtx_header_line_in_entries", SIGNAC,
     _text(MTX, _insert(100, "%%MatrixMarket matrix coordinate integer general\n")), "line 101: found '%%Matrix"),
    ("mtx_text_line_in_entries", SIGNAC, _text(MTX, _insert(100, "row column value\n")),
     "line 101: found 'row column value'"),
    ("mtx_real_value_in_integer_file", SIGNAC, _text(MTX, _line(3, "1 3 3.5\n")),
     "line 4: found '1 3 3.5'; expected 'row column value' with row in 1..323, column in 1..100 and an integer value"),
    ("mtx_extra_field", SIGNAC, _text(MTX, _line(3, "1 3 7 2\n")), "line 4: found '1 3 7 2'"),
    ("mtx_pattern_field", SIGNAC, _text(MTX, _insert(0, "%%MatrixMarket matrix coordinate pattern general\n")),
     "line 1: found '%%MatrixMarket matrix coordinate pattern general'; expected '%%MatrixMarket matrix coordinate"),
    ("mtx_symmetric", SIGNAC, _text(MTX, lambda lines: [lines[0].replace("general", "symmetric")] + lines[1:]),
     "expected '%%MatrixMarket matrix coordinate integer general'"),
    ("mtx_no_banner", SIGNAC, _text(MTX, lambda lines: lines[1:]), "line 1: found '%'"),
    ("mtx_size_line_without_entries", SIGNAC, _text(MTX, _line(2, "323 100\n")),
     "line 3: found '323 100'; expected the size line 'rows columns entries'"),
    ("mtx_size_line_more_cells", SIGNAC, _text(MTX, _line(2, "323 101 4269\n")),
     "101 columns (cells) but"),
    ("mtx_count_beyond_int32", SIGNAC, _text(MTX, _line(3, "1 3 3000000000\n")), "a count of 3000000000"),
    ("mtx_negative_count", SIGNAC, _text(MTX, _line(3, "1 3 -2\n")), "1 negative counts"),
    ("mtx_only_header", SIGNAC, _text(MTX, lambda lines: lines[:3]), "0 entries but"),
    ("mtx_windows_line_endings", SIGNAC, _text(MTX, CRLF), EXACT),
    ("mtx_blank_lines_in_entries", SIGNAC, _text(MTX, _insert(100, "\n")), EXACT),
    # barcodes.tsv.gz (PBMC: 90 cells)
    ("barcodes_truncated_gzip", PBMC_MTX, _raw(BARCODES, lambda data: data[: len(data) // 2]), "truncated"),
    ("barcodes_not_gzip", PBMC_MTX, _raw(BARCODES, gzip.decompress), "not valid gzip data"),
    ("barcodes_gzipped_binary_garbage", PBMC_MTX, _raw(BARCODES, lambda data: gzip.compress(GARBAGE)),
     "binary data, not text"),
    ("barcodes_empty", PBMC_MTX, _text(BARCODES, lambda lines: []), "no barcodes; expected one cell barcode per line"),
    ("barcodes_windows_line_endings", PBMC_MTX, _text(BARCODES, CRLF), EXACT),
    ("barcodes_duplicated", PBMC_MTX, _text(BARCODES, lambda lines: lines[:-1] + lines[:1]),
     "1 duplicated barcodes (e.g. 'ATTGCAGGTACTGATG-1'); expected each once"),
    ("barcodes_header_line_in_middle", PBMC_MTX, _text(BARCODES, _insert(45, "barcode\n")),
     "has 91 lines; expected one barcode per matrix column"),
    # peaks.bed.gz
    ("peaks_truncated_gzip", PBMC_MTX, _raw(PEAKS, lambda data: data[: len(data) // 2]), "truncated"),
    ("peaks_binary_garbage", PBMC_MTX, _raw(PEAKS, lambda data: GARBAGE), "not valid gzip data"),
    ("peaks_empty", SIGNAC, _text(PEAKS, lambda lines: []), "no regions"),
    ("peaks_windows_line_endings", SIGNAC, _text(PEAKS, CRLF), EXACT),
    ("peaks_spaces_instead_of_tabs", SIGNAC, _text(PEAKS, lambda lines: [line.replace("\t", " ") for line in lines]),
     "line 1: found 'chr1 713460 714823'; expected tab-separated chrom, start, end"),
    ("peaks_header_line_in_middle", SIGNAC, _text(PEAKS, _insert(100, "chrom\tstart\tend\n")),
     "line 101: found 'chrom\\tstart\\tend'"),
    ("peaks_comment_line_in_middle", SIGNAC, _text(PEAKS, _insert(100, "#chrom\tstart\tend\n")), EXACT),
    ("peaks_end_before_start", SIGNAC, _text(PEAKS, _insert(1, "chr1\t714823\t713460\n")),
     "line 2: found 'chr1\\t714823\\t713460'; expected tab-separated chrom, start, end with integer start < end"),
    ("peaks_non_numeric_start", SIGNAC, _text(PEAKS, _line(1, "chr1\t75e4\t753038\n")),
     "line 2: found 'chr1\\t75e4\\t753038'"),
    # Cell Ranger .h5 (PBMC: 1,308 peaks x 90 cells, 10,419 stored counts)
    ("h5_truncated", PBMC_H5, _h5_bytes(lambda data: data[: len(data) // 2]), "not a readable HDF5 file"),
    ("h5_not_hdf5", PBMC_H5, _h5_bytes(lambda data: GARBAGE), "not a readable HDF5 file"),
    *[(f"h5_missing_{name.replace('/', '_')}", PBMC_H5, _h5(name, lambda values: None), f"no matrix/{name}")
      for name in ("data", "indices", "indptr", "shape", "barcodes", "features/id")],
    ("h5_indptr_ends_before_nnz", PBMC_H5, _h5("indptr", _add(-1, -5)),
     "matrix/indptr ends at 10414, matrix/indices has 10419 and matrix/data 10419 values"),
    ("h5_indptr_not_starting_at_0", PBMC_H5, _h5("indptr", _set(0, 3)), "matrix/indptr starts at 3 or decreases"),
    ("h5_indptr_decreasing", PBMC_H5, _h5("indptr", _set(5, 0)), "matrix/indptr starts at 0 or decreases"),
    ("h5_indptr_one_short", PBMC_H5, _h5("indptr", lambda values: values[:-1]),
     "matrix/indptr has 90 values; expected 91"),
    ("h5_index_beyond_shape", PBMC_H5, _h5("indices", _set(7, 1308)),
     "matrix/indices range from 0 to 1308; expected 0 to 1307"),
    ("h5_negative_index", PBMC_H5, _h5("indices", _set(7, -1)), "matrix/indices range from -1"),
    ("h5_indices_as_floats", PBMC_H5, _h5("indices", lambda values: values.astype(float)),
     "matrix/indices and indptr are float64 and int32; expected integers"),
    ("h5_data_shorter_than_indices", PBMC_H5, _h5("data", lambda values: values[:-1]), "matrix/data 10418 values"),
    ("h5_shape_more_cells_than_barcodes", PBMC_H5, _h5("shape", _add(1, 1)),
     "matrix/shape is 1308 features x 91 cells but there are 1308 matrix/features/id and 90 matrix/barcodes"),
    ("h5_shape_fewer_features", PBMC_H5, _h5("shape", _add(0, -1)), "matrix/shape is 1307 features"),
    ("h5_duplicated_barcodes", PBMC_H5, _h5("barcodes", lambda values: np.concatenate([values[:1], values[:-1]])),
     "1 duplicated barcodes"),
    ("h5_negative_count", PBMC_H5, _h5("data", _set(0, -4.0)), "1 negative counts (smallest -4.0)"),
    ("h5_fractional_count", PBMC_H5, _h5("data", _set(0, 2.5)), "1 non-integer counts (e.g. 2.5)"),
]


def _clean(source):
    if source not in CLEAN:
        CLEAN[source] = read_peak_matrix(source)
    return CLEAN[source]


def _copy(source, tmp_path):
    copy = tmp_path / source.name
    (shutil.copytree if source.is_dir() else shutil.copy)(source, copy)
    return copy


@pytest.fixture(scope="module")
def outcomes():
    """Rows of (corruption, outcome), printed as a table once the module's tests are done."""
    rows = []
    yield rows
    width = max((len(name) for name, _ in rows), default=0)
    print("\n\ncorruption -> outcome\n" + "\n".join(f"{name:<{width}}  {outcome}" for name, outcome in rows))


@pytest.fixture
def restore_logging():
    """run_step points the root logger at the step's log file; put the previous handlers back afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    for handler in root.handlers:
        handler.close()
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.mark.parametrize("name, source, corrupt, expected", CASES, ids=[case[0] for case in CASES])
def test_corrupt_input_is_read_exactly_or_refused_clearly(tmp_path, outcomes, restore_logging,
                                                           name, source, corrupt, expected):
    copy = _copy(source, tmp_path)
    corrupted = corrupt(copy)
    if expected == EXACT:
        adata, clean = read_peak_matrix(copy), _clean(source)
        assert (adata.X != clean.X).nnz == 0 and adata.X.shape == clean.X.shape
        assert list(adata.obs_names) == list(clean.obs_names)
        assert adata.var[["chrom", "start", "end"]].equals(clean.var[["chrom", "start", "end"]])
        outcomes.append((name, EXACT))
        return
    with pytest.raises(InputError) as error:
        read_peak_matrix(copy)
    message = str(error.value)
    assert str(corrupted) in message and expected in message
    _assert_step_fails_cleanly(copy, corrupted, tmp_path)
    outcomes.append((name, message.replace(f"{tmp_path}/", "")))


def _assert_step_fails_cleanly(matrix, corrupted, tmp_path):
    """The rule's wrapper: exit status 1, one message naming the file in the log, no traceback, no output."""
    log = tmp_path / "read.log"
    with pytest.raises(SystemExit) as exit_status:
        run_step(lambda: read_matrix(matrix, "", tmp_path / "out" / "raw.h5ad", "corrupt", {}), log)
    assert exit_status.value.code == 1
    text = log.read_text()
    assert str(corrupted) in text and text.count(" ERROR ") == 1 and "Traceback" not in text
    assert [path for path in (tmp_path / "out").rglob("*") if path.is_file()] == []


def test_corrupt_h5_through_the_workflow(tmp_path):
    """An .h5 whose indptr decreases (scipy would build a matrix from it, reading past its arrays) stops the run."""
    matrix = _h5("indptr", _set(5, 0))(_copy(PBMC_H5, tmp_path))
    write_sample_sheet(tmp_path, [("corrupt", matrix, "")])
    result = run_snakemake(tmp_path, "--until", "read_matrix", configfiles=[UNANNOTATED], check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert f"{matrix}: matrix/indptr starts at 0 or decreases; expected non-decreasing from 0" in output
    assert "Traceback" not in output
    assert not (tmp_path / "results" / "samples" / "corrupt" / "raw.h5ad").exists()
