"""A study of several samples: the common region set by genomic overlap, the joint AnnData, mixing scores, and
the real workflow on the two BPCells samples, whose peak sets differ."""

import gzip
import json

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import scipy.io
import scipy.sparse as sp
import torch

from atacflow.errors import InputError
from atacflow.integration import mixing_score
from atacflow.matrix_io import read_peak_matrix
from atacflow.model import PoissonVI
from atacflow.peak_merge import common_regions, merge_overlapping, peak_assignment
from atacflow.study import expand_aggregations
from conftest import DONORS, GRANJA_DONORS, PBMC_H5, PBMC_UNSORTED_H5, UNANNOTATED, run_snakemake


def _bed(rows):
    table = pd.DataFrame(rows, columns=["chrom", "start", "end"])
    table.index = table["chrom"] + ":" + table["start"].astype(str) + "-" + table["end"].astype(str)
    return table


def test_overlapping_intervals_merge_into_maximal_runs():
    intervals = _bed([("chr1", 100, 200), ("chr1", 150, 300), ("chr1", 300, 400), ("chr2", 100, 200),
                      ("chr1", 50, 120), ("chr1", 500, 600)])
    merged, member_of = merge_overlapping(intervals)
    # [300, 400) only touches [150, 300): half-open intervals that share no base do not overlap
    assert merged.values.tolist() == [["chr1", 50, 300], ["chr1", 300, 400], ["chr1", 500, 600], ["chr2", 100, 200]]
    assert member_of.tolist() == [0, 0, 1, 3, 0, 2]


def test_common_regions_keep_what_every_sample_has_and_sum_its_peaks():
    a = _bed([("chr1", 100, 200), ("chr1", 180, 260), ("chr1", 1000, 1100), ("chr2", 10, 20)])
    b = _bed([("chr1", 150, 250), ("chr1", 2000, 2100), ("chr2", 15, 30)])
    regions, n_candidates = common_regions({"a": a, "b": b})
    assert list(regions.index) == ["chr1:100-260", "chr2:10-30"] and n_candidates == 4
    assert peak_assignment(a, regions).toarray().tolist() == [[1, 0], [1, 0], [0, 0], [0, 1]]
    assert peak_assignment(b, regions).toarray().tolist() == [[1, 0], [0, 0], [0, 1]]
    same, n_same = common_regions({"a": a, "b": a.copy()})
    assert list(same.index) == list(a.index) and n_same == 4 and (peak_assignment(a, same).toarray() == np.eye(4)).all()


def test_common_regions_from_a_given_bed_take_each_peak_to_its_largest_overlap():
    a = _bed([("chr1", 100, 200), ("chr1", 290, 420)])
    b = _bed([("chr1", 120, 180), ("chr1", 320, 380), ("chr1", 600, 700)])
    given = _bed([("chr1", 0, 150), ("chr1", 150, 300), ("chr1", 300, 400), ("chr1", 400, 900)])
    regions, _ = common_regions({"a": a, "b": b}, "bed", given)
    # a's first peak overlaps [0,150) by 50 and [150,300) by 50: the first wins; its second overlaps [150,300)
    # by 10, [300,400) by 100 and [400,900) by 20; [400,900) holds a peak of b only and is dropped
    assert list(regions.index) == ["chr1:0-150", "chr1:300-400"]
    assert peak_assignment(a, regions).toarray().tolist() == [[1, 0], [0, 1]]
    assert peak_assignment(b, regions).toarray().tolist() == [[1, 0], [0, 1], [0, 0]]


def test_chromosome_naming_must_agree():
    with pytest.raises(InputError, match="samples 'a' and 'b' name chromosomes differently"):
        common_regions({"a": _bed([("chr1", 1, 10)]), "b": _bed([("1", 1, 10)])})


def test_mixing_score_is_zero_when_separated_and_near_one_when_mixed():
    rng = np.random.default_rng(0)
    separated = np.vstack([rng.normal(0, 1, (200, 4)), rng.normal(50, 1, (100, 4))])
    samples = ["a"] * 200 + ["b"] * 100
    assert mixing_score(separated, samples) == pytest.approx(0.0)
    assert mixing_score(rng.normal(0, 1, (300, 4)), samples) == pytest.approx(1.0, abs=0.1)
    assert np.isnan(mixing_score(separated, ["a"] * 300))


def test_batch_corrected_accessibility_averages_every_batch_equally():
    counts = read_peak_matrix(PBMC_H5)[:, :200].copy()
    counts.obs["sample"] = ["s1", "s2"] * (counts.n_obs // 2)
    model = PoissonVI(counts, device="cpu", batch_key="sample")
    torch.manual_seed(0)
    hidden, normalizers = model.decoder_states(counts, n_samples=3, every_batch=True)
    assert hidden.shape[0] == 6  # 2 batches x 3 draws
    rho = model.accessibility(hidden, normalizers, slice(None))
    torch.manual_seed(0)
    hidden_again, normalizers_again = model.decoder_states(counts, n_samples=3, every_batch=True)
    per_batch = [model.accessibility(hidden_again[3 * b:3 * b + 3], normalizers_again[3 * b:3 * b + 3], slice(None))
                 for b in range(2)]
    torch.testing.assert_close(rho, (per_batch[0] + per_batch[1]) / 2)
    torch.testing.assert_close(rho.sum(dim=1), torch.ones(counts.n_obs))


@pytest.fixture(scope="module")
def bpcells_study(tmp_path_factory):
    """The two BPCells samples (different peak sets) through the whole workflow, with a sheet column `condition`
    used as a UMAP colour and in a DA comparison."""
    workdir = tmp_path_factory.mktemp("study")
    (workdir / "samples.tsv").write_text(
        f"sample\tpath\tcondition\nsorted\t{PBMC_H5}\tsorted\nunsorted\t{PBMC_UNSORTED_H5}\tunsorted\n")
    (workdir / "study.yaml").write_text(
        "plots:\n  umap_columns: [condition]\n"
        "da:\n  comparisons:\n    - {groupby: condition, group1: sorted, group2: unsorted}\n")
    run_snakemake(workdir, configfiles=[UNANNOTATED, workdir / "study.yaml"])
    return workdir / "results" / "study"


def test_region_counts_after_the_merge_equal_a_direct_computation(bpcells_study):
    merged = ad.read_h5ad(bpcells_study / "merged.h5ad")
    assert merged.obs_names.is_unique and merged.n_obs == 200
    for sample, path in (("sorted", PBMC_H5), ("unsorted", PBMC_UNSORTED_H5)):
        matrix = read_peak_matrix(path)
        fragments = np.ceil(matrix.X.toarray() / 2)
        cells = (merged.obs["sample"] == sample).to_numpy()
        assert list(merged.obs_names[cells]) == [f"{sample}#{b}" for b in matrix.obs_names]
        assert (merged.obs.loc[cells, "condition"] == sample).all()
        expected = np.zeros((matrix.n_obs, merged.n_vars))
        for j, (chrom, start, end) in enumerate(merged.var[["chrom", "start", "end"]].itertuples(index=False)):
            inside = ((matrix.var["chrom"] == chrom) & (matrix.var["start"] < end) & (matrix.var["end"] > start))
            expected[:, j] = fragments[:, inside.to_numpy()].sum(axis=1)
        np.testing.assert_array_equal(merged[cells].X.toarray(), expected)
    stats = pd.read_csv(bpcells_study / "qc" / "peak_merge.tsv", sep="\t", index_col="sample")
    assert stats.loc["sorted", "n_peaks"] == 1308 and stats.loc["unsorted", "n_peaks"] == 1151
    assert stats.loc["sorted", "n_peaks_in_kept_regions"] == 1056  # the sorted peaks overlapping an unsorted one
    assert (stats["n_regions_kept"] == merged.n_vars).all() and stats["fraction_of_fragments_kept"].between(0.9, 1).all()


def test_the_study_model_has_the_samples_as_batches(bpcells_study):
    description = json.loads((bpcells_study / "model" / "model.json").read_text())
    assert description["batch_key"] == "sample" and description["batch_categories"] == ["sorted", "unsorted"]


def test_batch_corrected_da_for_every_cluster_and_the_sheet_column(bpcells_study):
    clustered = ad.read_h5ad(bpcells_study / "clustered.h5ad")
    tables = {path.stem: pd.read_csv(path, sep="\t") for path in (bpcells_study / "da").glob("*.tsv")}
    clusters = clustered.obs["leiden"].unique()
    assert {f"leiden_{c}_vs_rest" for c in clusters} | {"condition_sorted_vs_unsorted"} == set(tables)
    for table in tables.values():
        assert table["batch_correction"].all() and len(table) == clustered.n_vars
    condition = tables["condition_sorted_vs_unsorted"]
    assert (condition[["n_samples1", "n_samples2"]] == 1).all().all()
    assert (condition["n_cells1"] == (clustered.obs["condition"] == "sorted").sum()).all()
    scores = pd.read_csv(bpcells_study / "qc" / "integration.tsv", sep="\t").iloc[0]
    assert scores["n_samples"] == 2 and np.isfinite(scores["batch_mixing"])


def _write_mtx_folder(folder, counts, barcodes, peaks):
    folder.mkdir(parents=True)
    with gzip.open(folder / "matrix.mtx.gz", "wb") as handle:
        scipy.io.mmwrite(handle, sp.coo_matrix(counts.T), field="integer")
    (folder / "barcodes.tsv").write_text("".join(f"{b}\n" for b in barcodes))
    (folder / "peaks.bed").write_text("".join(f"{c}\t{s}\t{e}\n" for c, s, e in peaks.itertuples(index=False)))


def test_a_cell_ranger_aggr_output_is_read_as_the_samples_it_holds(tmp_path):
    """The two donors aggregated as Cell Ranger aggr writes them: one matrix, barcodes -1 and -2, and the CSV."""
    donors = [read_peak_matrix(GRANJA_DONORS / donor) for donor in DONORS]
    barcodes = [f"{b}-{n}" for n, donor in enumerate(donors, start=1) for b in donor.obs_names]
    _write_mtx_folder(tmp_path / "aggr", sp.vstack([d.X for d in donors]), barcodes,
                      donors[0].var[["chrom", "start", "end"]])
    (tmp_path / "aggr.csv").write_text("library_id,fragments,cells,treatment\n"
                                       f"{DONORS[0]},/data/a/fragments.tsv.gz,/data/a/singlecell.csv,none\n"
                                       f"{DONORS[1]},/data/b/fragments.tsv.gz,/data/b/singlecell.csv,drug\n")
    (tmp_path / "samples.tsv").write_text(
        f"sample\tpath\taggregation_csv\nbmmc\t{tmp_path / 'aggr'}\t{tmp_path / 'aggr.csv'}\n")
    run_snakemake(tmp_path, "--until", "merge_samples", configfiles=[UNANNOTATED])
    merged = ad.read_h5ad(tmp_path / "results" / "study" / "merged.h5ad")
    for number, (donor, matrix, treatment) in enumerate(zip(DONORS, donors, ("none", "drug")), start=1):
        cells = (merged.obs["sample"] == donor).to_numpy()
        assert list(merged.obs["barcode"][cells]) == [f"{b}-{number}" for b in matrix.obs_names]
        assert (merged.obs["treatment"][cells] == treatment).all()
        np.testing.assert_array_equal(merged[cells].X.toarray(), np.ceil(matrix.X.toarray() / 2))


def test_an_aggr_csv_column_cannot_override_the_sheet(tmp_path):
    (tmp_path / "aggr.csv").write_text("library_id,fragments,cells,sample\nA,f,c,other\n")
    sheet = pd.DataFrame({"sample": ["x"], "path": ["p"], "cell_metadata": [""],
                          "aggregation_csv": [str(tmp_path / "aggr.csv")]})
    with pytest.raises(InputError, match="columns \\['sample'\\] would override the sample sheet's"):
        expand_aggregations(sheet)
