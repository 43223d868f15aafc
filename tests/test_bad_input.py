"""Bad input through the real workflow: one clear error naming the file or key, and no output left behind."""

import gzip
import shutil

import pytest

from conftest import GRANJA_1K, SIGNAC, UNANNOTATED, run_snakemake, write_sample_sheet


def _workflow_error(workdir, *configfiles):
    result = run_snakemake(workdir, "--until", "filter_cells_regions", configfiles=[UNANNOTATED, *configfiles],
                           check=False)
    assert result.returncode != 0
    return result.stdout + result.stderr


def _no_outputs(workdir, sample):
    outputs = [p for p in (workdir / "results").glob("**/*") if p.is_file() and "logs" not in p.parts
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
    assert not (tmp_path / "results" / "study" / "filtered.h5ad").exists()
    assert not (tmp_path / "results" / "study" / "qc" / "filtering.tsv").exists()


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


@pytest.mark.parametrize(
    "yaml_text, metadata, expected",
    [
        ("plots:\n  umap_columns: [cell_type]\n", False,
         "config plots.umap_columns[0]: column 'cell_type' is not in the cell annotation of sample 'mine' "
         "(no cell_metadata); columns found: ['sample', 'barcode', 'leiden']"),
        ("model:\n  batch_key: condition\n", True,
         "config model.batch_key: column 'condition' is not in the cell annotation of sample 'mine' (cell_metadata "),
        ("da:\n  comparisons:\n    - {groupby: cell_type, group1: 17_B, group2: Neuron}\n", True,
         "config da.comparisons[0].group2: group 'Neuron' of column 'cell_type' has 0 cells in the samples' "
         "annotation (mine)"),
        ("da:\n  comparisons:\n    - {groupby: celltype, group1: 17_B}\n", True,
         "config da.comparisons[0].groupby: column 'celltype' is not in the cell annotation of sample 'mine'"),
    ],
    ids=["umap-column-without-annotation", "batch-key", "comparison-group", "comparison-column"],
)
def test_config_naming_missing_annotations_fails_before_any_job(tmp_path, yaml_text, metadata, expected):
    """Checked when the workflow is planned: one message naming key, value, sample and the columns that exist;
    no job runs, so no training starts."""
    write_sample_sheet(tmp_path, [("mine", GRANJA_1K, GRANJA_1K / "cells.tsv.gz" if metadata else "")])
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text(yaml_text)
    result = run_snakemake(tmp_path, configfiles=[UNANNOTATED, wrong], check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0 and expected in output
    if metadata:
        assert "columns found: ['donor', 'cell_type', 'frip', 'total_reads', 'sample', 'barcode', 'leiden']" in output \
            or "Neuron" in output
    assert "train_model" not in output and "Traceback" not in output
    assert not (tmp_path / "results").exists()


def _peaks_rewritten(folder, target, rewrite):
    """A copy of an mtx folder whose peaks.bed lines are passed through `rewrite`."""
    shutil.copytree(folder, target)
    with gzip.open(target / "peaks.bed.gz", "rt") as handle:
        lines = handle.readlines()
    with gzip.open(target / "peaks.bed.gz", "wt") as handle:
        handle.writelines(rewrite(line) for line in lines)
    return target


@pytest.mark.parametrize(
    "rows, expected",
    [
        (lambda d: [("a", SIGNAC, ""), ("a", GRANJA_1K, "")], "sample names must be unique; found more than once: ['a']"),
        (lambda d: [("a", SIGNAC, ""), ("b", SIGNAC, "")], "input paths must be unique; found more than once: ["),
        (lambda d: [("a", SIGNAC, ""), ("b", _peaks_rewritten(SIGNAC, d / "no_chr", lambda l: l[3:]), "")],
         "samples 'a' and 'b' name chromosomes differently (e.g. 'chr1' vs '1'); expected one genome build"),
        (lambda d: [("a", SIGNAC, ""), ("b", _peaks_rewritten(SIGNAC, d / "chr2", lambda l: "chr2" + l[4:]), "")],
         "regions.policy overlap: no region holds a peak of every sample (a, b)"),
    ],
    ids=["same-sample-twice", "same-path-twice", "chromosome-naming", "no-shared-region"],
)
def test_bad_study_is_one_clear_error_before_training(tmp_path, rows, expected):
    write_sample_sheet(tmp_path, rows(tmp_path))
    output = _workflow_error(tmp_path)
    assert expected in output and "Traceback" not in output
    assert not (tmp_path / "results" / "study" / "merged.h5ad").exists()
    assert not list(tmp_path.glob("results/**/train_model.log"))


def test_sheet_column_clashing_with_a_cell_annotation_column(tmp_path):
    sheet = write_sample_sheet(tmp_path, [("a", GRANJA_1K, GRANJA_1K / "cells.tsv.gz")])
    lines = sheet.read_text().splitlines()
    sheet.write_text("\n".join([lines[0] + "\tcell_type", lines[1] + "\tB"]) + "\n")
    output = _workflow_error(tmp_path)
    assert "columns ['cell_type'] clash with the sample sheet's columns" in output and "Traceback" not in output
    assert not (tmp_path / "results").exists()
