"""The README's own-data command, as written, on real matrices with no cell annotation; and nothing of the
user's is written to or lost: input folders stay as they were, and a failed sample never costs another its results.
"""

import gzip
import hashlib
import shutil

import anndata as ad
import pytest

from conftest import ROOT, SIGNAC, UNANNOTATED, run_snakemake, write_sample_sheet

COMMITTED_CONFIG = ROOT / "config" / "config.yaml"
FINAL = ("clustered.h5ad", "da_combined.tsv", "qc/integration.tsv", "plots/training.png", "plots/umap.png",
         "plots/cells_per_cluster.png", "plots/da_top_regions.png", "plots/umap_top_regions.png")


def snapshot(folder):
    """Every file under `folder` with its content hash and modification time."""
    return {str(path.relative_to(folder)): (hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns)
            for path in sorted(folder.rglob("*")) if path.is_file()}


@pytest.fixture(scope="module")
def own_data_run(tmp_path_factory):
    """`snakemake --cores N --config samples=my_samples.tsv` with the committed config/config.yaml, on a sheet of
    only `sample` and `path`, naming a Cell Ranger mtx folder without annotation. (The .h5 reader runs through the
    whole workflow in tests/test_study.py.)"""
    workdir = tmp_path_factory.mktemp("own_data")
    inputs = workdir / "inputs"
    shutil.copytree(SIGNAC, inputs / "pbmc_mtx")
    (workdir / "samples.tsv").write_text(f"sample\tpath\npbmc\t{inputs / 'pbmc_mtx'}\n")
    before = snapshot(inputs)
    run_snakemake(workdir, base_config=COMMITTED_CONFIG)
    return workdir, before


def test_the_own_data_command_runs_to_the_end(own_data_run):
    results = own_data_run[0] / "results" / "study"
    for name in FINAL:
        assert (results / name).is_file(), name
    clustered = ad.read_h5ad(results / "clustered.h5ad")
    clusters = clustered.obs["leiden"]
    assert clusters.notna().all() and clustered.obsm["X_umap"].shape == (clustered.n_obs, 2)
    tested = {path.stem for path in (results / "da").glob("*.tsv")}
    assert {f"leiden_{c}_vs_rest" for c in clusters.unique() if (clusters == c).sum() >= 2} <= tested


def test_no_input_file_is_written_to(own_data_run):
    workdir, before = own_data_run
    assert snapshot(workdir / "inputs") == before


def test_a_failed_sample_never_costs_another_its_results(tmp_path):
    """Break one sample of two after both ran: the rerun fails on it alone; the other's outputs stay byte for
    byte and untouched; once repaired, only the broken sample's per-sample jobs (and the joint ones) run again."""
    for name in ("good", "broken"):
        shutil.copytree(SIGNAC, tmp_path / name)
    write_sample_sheet(tmp_path, [(name, tmp_path / name, "") for name in ("good", "broken")])
    until = ("--until", "filter_cells_regions")
    run_snakemake(tmp_path, *until, configfiles=[UNANNOTATED])
    good = snapshot(tmp_path / "results" / "samples" / "good")
    peaks = tmp_path / "broken" / "peaks.bed.gz"
    clean = peaks.read_bytes()
    with gzip.open(peaks, "wt") as handle:
        handle.write("chr1\t100\n")

    failed = run_snakemake(tmp_path, *until, configfiles=[UNANNOTATED], check=False)
    assert failed.returncode != 0 and f"{peaks} line 1: found 'chr1\\t100'" in failed.stdout + failed.stderr
    assert snapshot(tmp_path / "results" / "samples" / "good") == good

    peaks.write_bytes(clean)
    plan = run_snakemake(tmp_path, *until, "--dry-run", configfiles=[UNANNOTATED]).stdout
    planned = [line.split("sample=")[1].strip() for line in plan.splitlines() if "wildcards: sample=" in line]
    assert sorted(planned) == ["broken"] * 2  # read_matrix, fragments_from_matrix; the joint jobs have no sample
    run_snakemake(tmp_path, *until, configfiles=[UNANNOTATED])
    assert snapshot(tmp_path / "results" / "samples" / "good") == good
    merged = ad.read_h5ad(tmp_path / "results" / "study" / "merged.h5ad")
    assert merged.obs["sample"].value_counts().to_dict() == {"good": 100, "broken": 100}
