"""The real workflow end to end through snakemake on a study of two real samples (1,000 Granja cells of two
donors): per-sample and joint outputs, contents and report."""

import json
import zipfile

import anndata as ad
import numpy as np
import pandas as pd
import pytest

from atacflow.comparisons import make_comparison
from atacflow.da import DASettings, differential_accessibility, model_accessibility_blocks
from atacflow.integration import mixing_score
from atacflow.model import DEFAULT_N_HIDDEN, PoissonVI, default_sizes
from atacflow.matrix_io import read_peak_matrix
from conftest import DA_TEXT_COLUMNS, DONORS, GRANJA_DONORS, run_snakemake


@pytest.fixture(scope="module")
def results(workflow_run):
    return workflow_run / "results" / "study"


@pytest.fixture(scope="module")
def clustered(results):
    return ad.read_h5ad(results / "clustered.h5ad")


@pytest.mark.parametrize("donor", DONORS)
def test_fragment_conversion_is_ceil_half_of_the_raw_reads(workflow_run, donor):
    sample = workflow_run / "results" / "samples" / donor
    raw, fragments = ad.read_h5ad(sample / "raw.h5ad"), ad.read_h5ad(sample / "fragments.h5ad")
    np.testing.assert_array_equal(fragments.X.toarray(), np.ceil(raw.X.toarray() / 2))
    assert fragments.uns["fragment_conversion"]["applied"] == "reads"
    log = (sample / "logs" / "fragments_from_matrix.log").read_text()
    assert "entries equal 1" in log and "ceil(reads / 2)" in log


def test_every_cell_of_every_sample_is_in_the_study_once_with_its_sample(results):
    merged = ad.read_h5ad(results / "merged.h5ad")
    assert merged.obs_names.is_unique and merged.n_obs == 1000
    for donor in DONORS:
        matrix = read_peak_matrix(GRANJA_DONORS / donor)
        cells = merged.obs["sample"] == donor
        assert list(merged.obs_names[cells]) == [f"{donor}#{barcode}" for barcode in matrix.obs_names]
        assert list(merged.obs.loc[cells, "barcode"]) == list(matrix.obs_names)
        assert (merged.obs.loc[cells, "donor"] == donor).all()  # the cell table joined on the barcode
        np.testing.assert_array_equal(merged[cells.to_numpy()].X.toarray(), np.ceil(matrix.X.toarray() / 2))
    stats = pd.read_csv(results / "qc" / "peak_merge.tsv", sep="\t", index_col="sample")
    assert stats["n_regions_kept"].tolist() == [10000, 10000] and (stats["fraction_of_fragments_kept"] == 1).all()


def test_filtering_numbers_are_saved(results):
    stats = pd.read_csv(results / "qc" / "filtering.tsv", sep="\t", index_col="step")
    filtered = ad.read_h5ad(results / "filtered.h5ad")
    assert stats.loc["input", "n_cells"] == 1000 and stats.loc["input", "n_regions"] == 10000
    assert stats.loc["cells_filtered"].tolist() == [filtered.n_obs, filtered.n_vars, int(filtered.X.sum())]


def test_every_cell_has_a_cluster_latent_and_umap(results, clustered):
    filtered = ad.read_h5ad(results / "filtered.h5ad")
    assert list(clustered.obs_names) == list(filtered.obs_names)
    assert clustered.obs["leiden"].notna().all() and clustered.obs["leiden"].nunique() >= 3
    n_latent = default_sizes(filtered.n_vars, DEFAULT_N_HIDDEN)[1]  # int(sqrt(128)) = 11
    assert clustered.obsm["X_poissonvi"].shape == (clustered.n_obs, n_latent)
    assert clustered.obsm["X_umap"].shape == (clustered.n_obs, 2)
    assert "cell_type" in clustered.obs and clustered.obs["cell_type"].notna().all()
    assert set(clustered.obs["sample"]) == set(DONORS)
    provenance = clustered.uns["atacflow"]
    assert provenance["cluster"]["resolution"] == 1.0 and provenance["umap"]["min_dist"] == 0.2
    assert provenance["neighbors"]["n_neighbors"] == 15 and provenance["neighbors"]["metric"] == "euclidean"
    # the graph and the layout travel without the matrix; clustered.h5ad joins them to the clusters
    graph, layout = ad.read_h5ad(results / "neighbors.h5ad"), ad.read_h5ad(results / "umap.h5ad")
    clusters = ad.read_h5ad(results / "leiden.h5ad")
    assert graph.n_vars == layout.n_vars == 0 and not layout.obsp and "X_umap" not in clusters.obsm
    assert list(graph.obs_names) == list(layout.obs_names) == list(clustered.obs_names)
    assert (graph.obsp["connectivities"] != clustered.obsp["connectivities"]).nnz == 0
    np.testing.assert_array_equal(layout.obsm["X_umap"], clustered.obsm["X_umap"])
    assert clustered.n_vars == filtered.n_vars and (clustered.X != clusters.X).nnz == 0
    assert {"distances", "connectivities"} <= set(clustered.obsp)
    assert {"neighbors", "leiden", "umap"} <= set(clustered.uns)
    assert provenance["model"]["n_latent"] == n_latent
    assert provenance["versions"]["torch"]


def test_the_graph_is_built_on_the_decoded_profiles_of_the_saved_model(results, clustered):
    """By default (cluster.representation: decoded) the kNN graph, Leiden and UMAP read the Aitchison coordinates
    of the decoded profiles, which the saved model gives again from the saved latent means."""
    graph = ad.read_h5ad(results / "neighbors.h5ad")
    assert graph.uns["neighbors"]["params"]["use_rep"] == "X_poissonvi_decoded" and list(graph.obsm) == [
        "X_poissonvi_decoded"]
    assert clustered.uns["atacflow"]["neighbors"]["representation"] == "decoded"
    filtered = ad.read_h5ad(results / "filtered.h5ad")
    model = PoissonVI.load(results / "model", filtered, device="cpu")
    decoded = model.decoded_profiles(clustered.obsm["X_poissonvi"])
    assert decoded.shape == clustered.obsm["X_poissonvi"].shape
    np.testing.assert_allclose(clustered.obsm["X_poissonvi_decoded"], decoded, rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(graph.obsm["X_poissonvi_decoded"], clustered.obsm["X_poissonvi_decoded"])


def test_the_sample_is_the_batch_covariate(results):
    description = json.loads((results / "model" / "model.json").read_text())
    assert description["batch_key"] == "sample" and description["batch_categories"] == list(DONORS)
    assert description["hyperparameters"]["n_batches"] == 2


def test_integration_numbers_and_figure(results):
    scores = pd.read_csv(results / "qc" / "integration.tsv", sep="\t").iloc[0]
    assert scores["n_samples"] == 2 and 0.3 < scores["batch_mixing"] <= 1.2
    clusters = ad.read_h5ad(results / "leiden.h5ad")
    graph = clusters.uns["neighbors"]["params"]  # scored on the graph's own coordinates and metric
    assert scores["batch_mixing"] == pytest.approx(mixing_score(
        clusters.obsm[graph["use_rep"]], clusters.obs["sample"], int(graph["n_neighbors"]), graph["metric"]))
    assert scores["label_key"] == "cell_type" and 0 < scores["ari"] <= 1 and 0 < scores["nmi"] <= 1
    cells = pd.read_csv(results / "qc" / "cells_per_cluster_and_sample.tsv", sep="\t", index_col="cluster")
    clustered = ad.read_h5ad(results / "clustered.h5ad")
    assert cells.to_numpy().sum() == clustered.n_obs and list(cells.columns) == list(DONORS)
    assert (results / "plots" / "cells_per_cluster.png").stat().st_size > 10_000


def test_model_keeps_the_best_epoch(results):
    description = json.loads((results / "model" / "model.json").read_text())
    history = pd.read_csv(results / "qc" / "training_history.tsv", sep="\t")
    best = description["training"]["best_epoch"]
    after_warm_up = history["validation_reconstruction_loss"][history["beta"] == 1.0]
    assert after_warm_up.idxmin() == best
    assert description["training"]["best_validation_reconstruction_loss"] == pytest.approx(after_warm_up.min())


def test_active_latent_dimensions_are_stated_in_the_model_the_log_and_the_figure(results, clustered):
    training = json.loads((results / "model" / "model.json").read_text())["training"]
    variances = clustered.obsm["X_poissonvi"].astype(np.float64).var(axis=0)
    np.testing.assert_allclose(training["latent_dimension_variances"], variances, rtol=1e-5)
    n_active = int((variances > 0.01).sum())
    assert training["n_active_latent_dimensions"] == n_active > 1 and not training["latent_collapsed"]
    assert f"{n_active} of {len(variances)} latent dimensions active" in (results / "logs" / "train_model.log").read_text()


def test_da_tables_hold_every_filtered_region_with_values_in_range(results, clustered):
    tables = {path.stem: pd.read_csv(path, sep="\t", index_col="region") for path in (results / "da").glob("*.tsv")}
    clusters = sorted(clustered.obs["leiden"].unique(), key=int)
    assert set(tables) == {f"leiden_{c}_vs_rest" for c in clusters} | {"cell_type_17_B_vs_11_CD14.Mono.1"}
    for table in tables.values():
        assert set(table.index) == set(clustered.var_names) and len(table) == clustered.n_vars
        assert table["proba_da"].between(0, 1, inclusive="neither").all()
        assert table[["emp_prob1", "emp_prob2"]].stack().between(0, 1).all()
        assert np.isfinite(table[["lfc_mean", "lfc_median", "lfc_std", "bayes_factor"]]).all().all()
        assert (table["proba_da"].diff().dropna() <= 0).all()
        assert table["batch_correction"].all() and table["n_samples1"].between(1, 2).all()
        assert (table["n_samples2"] == 2).all() or table["group2"].iloc[0] != "rest"
    combined = pd.read_csv(results / "da_combined.tsv", sep="\t", dtype=DA_TEXT_COLUMNS)
    assert len(combined) == sum(map(len, tables.values()))


def test_figures_are_written(results):
    for name in ("training", "umap", "da_top_regions", "umap_top_regions", "cells_per_cluster"):
        assert (results / "plots" / f"{name}.png").stat().st_size > 10_000


def test_real_contrast_is_called_and_a_null_split_is_not(results, clustered):
    """B cells vs CD14 monocytes call many regions; two random halves of the largest cell type call none."""
    b_vs_mono = pd.read_csv(results / "da" / "cell_type_17_B_vs_11_CD14.Mono.1.tsv", sep="\t")
    assert b_vs_mono["is_da_fdr_0.05"].mean() > 0.1
    obs = clustered.obs.copy()
    largest = obs["cell_type"].value_counts().index[0]
    members = np.flatnonzero(obs["cell_type"] == largest)
    half = np.random.default_rng(0).permutation(members)[: len(members) // 2]
    obs["null_split"] = pd.Series(pd.NA, index=obs.index, dtype="string")
    obs.iloc[members, obs.columns.get_loc("null_split")] = "second"
    obs.iloc[half, obs.columns.get_loc("null_split")] = "first"
    model = PoissonVI.load(results / "model", clustered, device="cpu")
    settings = DASettings()
    comparison = make_comparison(obs, "null_split", "first", "second", "two-sided")
    table = differential_accessibility(
        model_accessibility_blocks(model, clustered, settings), clustered.X, clustered.var_names, [comparison], settings
    )[comparison.name]
    assert table["is_da_fdr_0.05"].sum() <= 0.01 * len(table)


def test_report_holds_figures_tables_and_captions(workflow_run):
    run_snakemake(workflow_run, "--report", "report.zip")
    with zipfile.ZipFile(workflow_run / "report.zip") as report:
        names = report.namelist()
        text = "".join(report.read(n).decode(errors="ignore") for n in names if n.endswith((".html", ".js")))
    for expected in ("umap.png", "training.png", "da_top_regions.png", "filtering.tsv", "training_history.tsv",
                     "da_combined.tsv", "leiden_0_vs_rest.tsv", "cells_per_cluster.png", "integration.tsv",
                     "peak_merge.tsv"):
        assert any(n.endswith(expected) for n in names), expected
    assert "Bayesian bootstrap" in text and "ceil(reads / 2)" in text and "batch mixing" in text
