"""Fragments files through the real workflow: a fragments file alone (ArchR PBSmall, genome tiles, 150 labelled
cells) downloaded from a local HTTP server with checksums; a matrix with its fragments (muon PBMC) counted exactly,
alone and in a study whose common regions differ from its peaks; checksummed matrix archives."""

import hashlib
import re
import tarfile
import threading
from contextlib import contextmanager
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import anndata as ad
import numpy as np
import pandas as pd
import pytest

from atacflow.fragment_counting import PeakRegions, count_fragment_file
from atacflow.matrix_io import read_peak_matrix, read_peaks_bed
from conftest import DATA, SIGNAC, UNANNOTATED, run_snakemake

MUON = DATA / "muon_pbmc_174_peaks"
ARCHR = DATA / "archr_pbsmall"


def sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


@contextmanager
def serve(folder):
    """An HTTP server on 127.0.0.1 serving `folder`; yields its address and the list of paths requested."""
    requested = []

    class Handler(SimpleHTTPRequestHandler):
        def do_GET(self):
            requested.append(self.path)
            super().do_GET()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(Handler, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", requested
    finally:
        server.shutdown()
        server.server_close()


def write_sheet(workdir, header, rows):
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "samples.tsv").write_text("\n".join(["\t".join(header)] + ["\t".join(map(str, r)) for r in rows]) + "\n")


@pytest.fixture(scope="module")
def archr_run(tmp_path_factory):
    """The ArchR fragments file and its cell list, given as addresses with checksums: downloaded, counted in 500 bp
    tiles (policy auto: no sample has peaks), filtered, trained, clustered, to the end."""
    workdir = tmp_path_factory.mktemp("archr")
    overlay = workdir / "archr.yaml"
    overlay.write_text(f"cell_metadata: {ARCHR / 'cells.tsv.gz'}\nplots: {{umap_columns: [cell_type]}}\n"
                       "integration: {label_key: cell_type}\n")
    with serve(DATA) as (address, requested):
        write_sheet(workdir, ["sample", "fragments", "fragments_sha256", "barcodes", "barcodes_sha256"], [(
            "pbsmall", f"{address}/archr_pbsmall/fragments.tsv.gz", sha256(ARCHR / "fragments.tsv.gz"),
            f"{address}/archr_pbsmall/cells.tsv.gz", sha256(ARCHR / "cells.tsv.gz"))])
        run_snakemake(workdir, configfiles=[UNANNOTATED, overlay])
        first = list(requested)
        run_snakemake(workdir, "--forcerun", "count_fragments", "--until", "count_fragments",
                      configfiles=[UNANNOTATED, overlay])
        return workdir, first, list(requested)


def test_addresses_are_downloaded_once_checksummed_and_never_again(archr_run):
    workdir, first, after_rerun = archr_run
    assert sorted(first) == ["/archr_pbsmall/cells.tsv.gz", "/archr_pbsmall/fragments.tsv.gz"]
    assert after_rerun == first  # the rerun counted the fragments again from the downloaded files
    for name in ("fragments.tsv.gz", "cells.tsv.gz"):
        kept = workdir / "resources" / "downloads" / sha256(ARCHR / name) / name
        assert sha256(kept) == sha256(ARCHR / name)


def test_tiles_of_500_bp_hold_the_cells_fragments(archr_run):
    sample = archr_run[0] / "results" / "samples" / "pbsmall"
    counts = ad.read_h5ad(sample / "fragments.h5ad")
    assert counts.n_obs == 150 and counts.obs_names[0].startswith("pbsmall#")
    assert ((counts.var["end"] - counts.var["start"]) == 500).all() and (counts.var["start"] % 500 == 0).all()
    assert counts.uns["fragment_conversion"]["applied"] == "counted"
    qc = pd.read_csv(sample / "qc" / "fragments_per_cell.tsv", sep="\t", index_col=0)
    assert qc["n_unique_fragments"].sum() == 29_399 and (qc["n_unique_fragments"] == qc["n_reads"]).all()
    lengths = pd.read_csv(sample / "qc" / "fragment_lengths.tsv", sep="\t")
    assert lengths["n_fragments"].sum() == 29_399
    # the nucleosome ladder: nucleosome-free fragments outnumber mono-nucleosomal ones, which outnumber di-
    assert lengths["n_fragments"][:147].sum() > lengths["n_fragments"][147:294].sum() > lengths["n_fragments"][294:441].sum()
    assert (sample / "plots" / "fragment_qc.png").stat().st_size > 10_000


def test_a_fragments_file_alone_runs_to_clusters_that_follow_the_cell_types(archr_run):
    study = archr_run[0] / "results" / "study"
    clustered = ad.read_h5ad(study / "clustered.h5ad")
    assert clustered.n_obs >= 140 and clustered.obs["cell_type"].notna().all()
    integration = pd.read_csv(study / "qc" / "integration.tsv", sep="\t")
    assert integration["ari"].iloc[0] > 0.1  # chance is 0; the monocytes stand apart from B and T cells
    for name in ("da_combined.tsv", "plots/umap.png", "qc/filtering.tsv", "qc/peak_merge.tsv"):
        assert (study / name).is_file(), name


@pytest.fixture(scope="module")
def muon_study(tmp_path_factory):
    """The muon matrix with its fragments, and beside it a matrix-only sample whose peaks are every other muon peak
    widened by 100 bp on each side: the common regions (policy overlap) are the widened peaks, in which the first
    sample's fragments are counted exactly."""
    workdir = tmp_path_factory.mktemp("muon")
    muon = read_peak_matrix(MUON)
    widened = muon[:, ::2].copy()
    peaks = pd.DataFrame({"chrom": widened.var["chrom"], "start": widened.var["start"] - 100,
                          "end": widened.var["end"] + 100})
    write_mtx(workdir / "widened", widened, peaks)
    write_sheet(workdir, ["sample", "path", "fragments"], [("muon", MUON, MUON / "fragments.tsv.gz"),
                                                          ("widened", workdir / "widened", "")])
    run_snakemake(workdir, "--until", "merge_samples", configfiles=[UNANNOTATED])
    return workdir, muon, peaks


def write_mtx(folder, adata, peaks):
    import gzip

    import scipy.io

    folder.mkdir(parents=True)
    with gzip.open(folder / "matrix.mtx.gz", "wb") as handle:
        scipy.io.mmwrite(handle, adata.X.T.tocoo().astype(np.int64), field="integer")
    (folder / "barcodes.tsv").write_text("\n".join(adata.obs_names) + "\n")
    peaks.to_csv(folder / "peaks.bed", sep="\t", header=False, index=False)


def test_a_matrix_with_fragments_is_counted_exactly_in_the_common_regions(muon_study):
    workdir, muon, peaks = muon_study
    counted = ad.read_h5ad(workdir / "results" / "samples" / "muon" / "fragments.h5ad")
    regions = read_peaks_bed(workdir / "results" / "study" / "regions.bed")
    assert list(counted.var_names) == list(regions.index) and len(regions) == len(peaks)
    assert set(regions.index) == set(peaks["chrom"] + ":" + peaks["start"].astype(str) + "-" + peaks["end"].astype(str))
    expected = count_fragment_file(MUON / "fragments.tsv.gz", PeakRegions(regions, "regions"), muon.obs_names)
    np.testing.assert_array_equal(counted.X.toarray(), expected.counts.toarray())
    assert list(counted.obs["barcode"]) == list(muon.obs_names) and counted.uns["fragment_conversion"]["applied"] == "counted"
    # counted, not summed over the peaks inside: a widened region holds every fragment of the peak it contains, and more
    in_peaks = count_fragment_file(MUON / "fragments.tsv.gz", PeakRegions(muon.var.iloc[::2], "peaks"), muon.obs_names)
    assert (counted.X.toarray() >= in_peaks.counts.toarray()).all() and counted.X.sum() > in_peaks.counts.sum()


def test_the_matrix_only_sample_is_summed_into_the_same_regions(muon_study):
    workdir, muon, _ = muon_study
    widened = ad.read_h5ad(workdir / "results" / "samples" / "widened" / "fragments.h5ad")
    np.testing.assert_array_equal(widened.X.toarray(), np.ceil(muon.X[:, ::2].toarray() / 2))
    merged = ad.read_h5ad(workdir / "results" / "study" / "merged.h5ad")
    assert merged.n_obs == 2 * muon.n_obs and merged.n_vars == widened.n_vars
    stats = pd.read_csv(workdir / "results" / "study" / "qc" / "peak_merge.tsv", sep="\t", index_col="sample")
    assert stats.loc["muon", "n_peaks"] == 174 and stats.loc["muon", "n_peaks_in_kept_regions"] == 87
    assert stats.loc["muon", "median_frip"] > 0 and np.isnan(stats.loc["widened", "median_frip"])
    assert stats.loc["widened", "n_peaks_dropped"] == 0


def test_the_fragment_qc_filters_are_applied_and_counted(muon_study, tmp_path):
    workdir = muon_study[0]
    change = tmp_path / "qc.yaml"
    change.write_text("filter: {min_cell_unique_fragments: 20, min_cell_frip: 0.5}\n")
    (workdir / "single").mkdir(exist_ok=True)
    write_sheet(workdir / "single", ["sample", "path", "fragments"], [("muon", MUON, MUON / "fragments.tsv.gz")])
    run_snakemake(workdir / "single", "--until", "filter_cells_regions", configfiles=[UNANNOTATED, change])
    results = workdir / "single" / "results"
    qc = pd.read_csv(results / "samples" / "muon" / "qc" / "fragments_per_cell.tsv", sep="\t", index_col=0)
    passing = ((qc["n_unique_fragments"] >= 20) & (qc["frip"] >= 0.5)).sum()
    stats = pd.read_csv(results / "study" / "qc" / "filtering.tsv", sep="\t", index_col="step")
    assert stats.loc["cells_fragment_qc_filtered", "n_cells"] == passing < len(qc)


@pytest.fixture
def archive_folder(tmp_path):
    """The Signac matrix folder as Cell Ranger ships it: filtered_peak_bc_matrix.tar.gz."""
    served = tmp_path / "served"
    served.mkdir()
    with tarfile.open(served / "filtered_peak_bc_matrix.tar.gz", "w:gz") as tar:
        tar.add(SIGNAC, arcname="filtered_peak_bc_matrix", filter=lambda i: None if "fragments" in i.name else i)
    return served


def test_a_matrix_archive_is_downloaded_and_unpacked(archive_folder, tmp_path):
    archive = archive_folder / "filtered_peak_bc_matrix.tar.gz"
    with serve(archive_folder) as (address, _):
        write_sheet(tmp_path / "run", ["sample", "path", "sha256"],
                    [("pbmc", f"{address}/filtered_peak_bc_matrix.tar.gz", sha256(archive))])
        run_snakemake(tmp_path / "run", "--until", "read_matrix", configfiles=[UNANNOTATED])
    raw = ad.read_h5ad(tmp_path / "run" / "results" / "samples" / "pbmc" / "raw.h5ad")
    expected = read_peak_matrix(SIGNAC)
    np.testing.assert_array_equal(raw.X.toarray(), expected.X.toarray())
    unpacked = tmp_path / "run" / "resources" / "downloads" / sha256(archive) / "filtered_peak_bc_matrix"
    assert {p.name for p in unpacked.iterdir() if not p.name.startswith(".")} == {"matrix.mtx.gz", "barcodes.tsv.gz",
                                                                             "peaks.bed.gz"}


def test_a_checksum_mismatch_is_an_error_and_leaves_no_file(archive_folder, tmp_path):
    with serve(archive_folder) as (address, _):
        write_sheet(tmp_path / "run", ["sample", "path", "sha256"],
                    [("pbmc", f"{address}/filtered_peak_bc_matrix.tar.gz", sha256(SIGNAC / "matrix.mtx.gz"))])
        result = run_snakemake(tmp_path / "run", "--until", "read_matrix", configfiles=[UNANNOTATED], check=False)
    assert result.returncode != 0
    log = next((tmp_path / "run" / "results" / "downloads" / "logs").rglob("*.log")).read_text()
    assert "SHA256 hash of downloaded file" in log and "download was deleted" in log and "Traceback" not in log
    downloads = tmp_path / "run" / "resources" / "downloads"
    assert not [p for p in downloads.rglob("*") if p.is_file()]


def test_an_address_without_its_checksum_stops_before_any_job(tmp_path):
    write_sheet(tmp_path, ["sample", "fragments"], [("pbmc", "https://example.org/fragments.tsv.gz")])
    result = run_snakemake(tmp_path, "--dry-run", configfiles=[UNANNOTATED], check=False)
    assert result.returncode != 0 and "without its checksum" in result.stdout + result.stderr
    assert "fragments_sha256" in result.stdout + result.stderr and not (tmp_path / "results").exists()


@pytest.mark.parametrize("header, row, config, message", [
    (["sample"], ["pbmc"], "", "no path and no fragments"),
    (["sample", "path", "barcodes"], ["pbmc", SIGNAC, ARCHR / "cells.tsv.gz"], "", "barcodes is given with a matrix"),
    (["sample", "path"], ["pbmc", SIGNAC], "regions: {policy: tiles}\n", "have no fragments file; genome tiles"),
    (["sample", "fragments"], ["pbmc", ARCHR / "fragments.tsv.gz"], "regions: {policy: overlap}\n",
     "no sample of .* has a peak matrix"),
    (["sample", "path"], ["pbmc", SIGNAC], "filter: {min_cell_frip: 0.2}\n", "filter.min_cell_frip: samples"),
    (["sample", "fragments"], ["pbmc", ARCHR / "fragments.tsv.gz"], "filter: {min_cell_frip: 0.2}\n",
     "regions.policy is tiles, which hold every fragment"),
    (["sample", "fragments", "frip"], ["pbmc", ARCHR / "fragments.tsv.gz", "high"], "",
     r"columns \['frip'\] are made by the workflow"),
], ids=["nothing-to-read", "barcodes-with-matrix", "tiles-without-fragments", "overlap-without-peaks",
        "frip-without-fragments", "frip-with-tiles", "sheet-column-named-like-fragment-qc"])
def test_sources_that_cannot_work_stop_before_any_job(tmp_path, header, row, config, message):
    write_sheet(tmp_path, header, [row])
    change = tmp_path / "change.yaml"
    change.write_text(config or "{}\n")
    result = run_snakemake(tmp_path, "--dry-run", configfiles=[UNANNOTATED, change], check=False)
    assert result.returncode != 0
    assert re.search(message, result.stdout + result.stderr), result.stderr[-2000:]
    assert not (tmp_path / "results").exists()


def test_a_fragments_file_alone_is_counted_in_a_given_peak_bed(tmp_path):
    """Policy bed: the user's regions, counted exactly, for the cells of the barcode list."""
    bed = tmp_path / "regions.bed"
    windows = [("chr11", start, start + 2000) for start in range(0, 135_000_000, 500_000)]
    bed.write_text("".join(f"{c}\t{s}\t{e}\n" for c, s, e in windows))
    write_sheet(tmp_path, ["sample", "fragments", "barcodes"],
                [("pbsmall", ARCHR / "fragments.tsv.gz", ARCHR / "cells.tsv.gz")])
    change = tmp_path / "bed.yaml"
    change.write_text(f"regions: {{policy: bed, bed: {bed}}}\n")
    run_snakemake(tmp_path, "--until", "merge_samples", configfiles=[UNANNOTATED, change])
    merged = ad.read_h5ad(tmp_path / "results" / "study" / "merged.h5ad")
    cells = pd.Index(merged.obs["barcode"].astype(str))
    expected = count_fragment_file(ARCHR / "fragments.tsv.gz", PeakRegions(read_peaks_bed(bed), "bed"), cells)
    assert merged.n_vars == len(windows) and merged.X.sum() > 0
    np.testing.assert_array_equal(merged.X.toarray(), expected.counts.toarray())
    stats = pd.read_csv(tmp_path / "results" / "study" / "qc" / "peak_merge.tsv", sep="\t", index_col="sample")
    assert 0 < stats.loc["pbsmall", "fraction_of_fragments_kept"] < 0.1  # 2 kb every 500 kb of chr11 only
