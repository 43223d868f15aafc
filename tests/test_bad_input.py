"""Bad input through the real workflow: one clear error naming the file or key, and no output left behind."""

import gzip
import shutil

import pytest

from conftest import GRANJA_1K, SIGNAC, run_snakemake, write_sample_sheet


def _workflow_error(workdir, *configfiles):
    result = run_snakemake(workdir, "--until", "filter_cells_regions", configfiles=configfiles, check=False)
    assert result.returncode != 0
    return result.stdout + result.stderr


def _no_outputs(workdir, sample):
    outputs = [p for p in (workdir / "results" / sample).glob("**/*") if p.is_file() and "logs" not in p.parts
               and "benchmarks" not in p.parts]
    assert outputs == []


def test_missing_input_file(tmp_path):
    write_sample_sheet(tmp_path, [("gone", tmp_path / "nowhere", "")])
    output = _workflow_error(tmp_path)
    assert "nowhere" in output
    _no_outputs(tmp_path, "gone")


def test_malformed_peaks_line_is_reported_without_traceback(tmp_path):
    matrix = tmp_path / "matrix"
    shutil.copytree(SIGNAC, matrix)
    with gzip.open(matrix / "peaks.bed.gz", "rt") as handle:
        lines = handle.readlines()
    lines[2] = "chr1\t5000\n"
    with gzip.open(matrix / "peaks.bed.gz", "wt") as handle:
        handle.writelines(lines)
    write_sample_sheet(tmp_path, [("broken", matrix, "")])
    output = _workflow_error(tmp_path)
    assert "peaks.bed.gz line 3: found 'chr1\\t5000'; expected tab-separated chrom, start, end" in output
    assert "Traceback" not in output
    _no_outputs(tmp_path, "broken")


def test_nothing_left_after_filtering(tmp_path):
    write_sample_sheet(tmp_path, [("empty", GRANJA_1K, "")])
    strict = tmp_path / "strict.yaml"
    strict.write_text("filter:\n  min_region_cell_fraction: 1.0\n")
    output = _workflow_error(tmp_path, strict)
    assert "after filtering" in output and "min_region_cell_fraction (1.0)" in output
    assert not (tmp_path / "results" / "empty" / "filtered.h5ad").exists()
    assert not (tmp_path / "results" / "empty" / "qc" / "filtering.tsv").exists()


@pytest.mark.parametrize(
    "yaml_text, expected",
    [
        ("train:\n  max_epoch: 10\n", "'max_epoch' was unexpected"),
        ("model:\n  n_latent: ten\n", "'ten' is not of type 'integer', 'null'"),
        ("device: tpu\n", "'tpu' is not one of ['auto', 'cpu', 'cuda']"),
    ],
)
def test_config_errors_name_the_key(tmp_path, yaml_text, expected):
    write_sample_sheet(tmp_path, [("any", GRANJA_1K, "")])
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text(yaml_text)
    output = _workflow_error(tmp_path, wrong)
    assert expected in output
    assert not (tmp_path / "results").exists()


def test_cell_metadata_without_matching_barcodes(tmp_path):
    metadata = tmp_path / "cells.tsv"
    metadata.write_text("cell\tcell_type\nNOT-A-CELL\tB\n")
    write_sample_sheet(tmp_path, [("annotated", GRANJA_1K, metadata)])
    output = _workflow_error(tmp_path)
    assert "none of its 1 barcodes" in output and "match the 1000 cells" in output
    _no_outputs(tmp_path, "annotated")
