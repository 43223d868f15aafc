"""DA statistics on hand-made accessibility, the FDR rule, comparisons and the cell-annotation join."""

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch

from atacflow.annotations import join_cell_metadata
from atacflow.comparisons import cluster_comparisons, configured_comparisons, make_comparison
from atacflow.da import DASettings, bootstrap_weights, differential_accessibility, fdr_calls, region_blocks
from atacflow.errors import InputError

N_REGIONS = 50


def _groups(n1=300, n2=300):
    return pd.DataFrame({"group": ["a"] * n1 + ["b"] * n2}, index=[f"cell{i}" for i in range(n1 + n2)])


def _accessibility(obs, fold=None, seed=0):
    """Cells x regions rows that sum to 1, with cell-to-cell spread; region r of group a scaled by fold[r]."""
    rng = np.random.default_rng(seed)
    values = rng.gamma(shape=20.0, scale=1.0, size=(len(obs), N_REGIONS))
    if fold is not None:
        values[(obs["group"] == "a").to_numpy()] *= fold
    return torch.as_tensor(values / values.sum(axis=1, keepdims=True), dtype=torch.float32)


def _run(accessibility, obs, comparisons, settings=DASettings(), block=7):
    counts = sp.csr_matrix((accessibility.numpy() * 200).round())
    blocks = [(s, accessibility[:, s]) for s in region_blocks(len(obs), N_REGIONS, block * len(obs))]
    regions = [f"chr1:{i * 1000}-{i * 1000 + 500}" for i in range(N_REGIONS)]
    return differential_accessibility(blocks, counts, regions, comparisons, settings)


def test_region_twice_as_accessible_gives_lfc_near_one():
    obs = _groups()
    fold = np.ones(N_REGIONS)
    fold[3] = 2.0
    table = _run(_accessibility(obs, fold), obs, [make_comparison(obs, "group", "a", "b", "two-sided")])["group_a_vs_b"]
    assert table.at["chr1:3000-3500", "lfc_mean"] == pytest.approx(1.0, abs=0.08)
    assert table.at["chr1:3000-3500", "is_da_fdr_0.05"]
    assert table.index[0] == "chr1:3000-3500"
    others = table.drop("chr1:3000-3500")
    assert (others["lfc_mean"].abs() < 0.2).all()
    assert not others["is_da_fdr_0.05"].any()
    assert len(table) == N_REGIONS


def test_identical_groups_give_no_calls():
    obs = _groups()
    accessibility = _accessibility(obs)
    same = make_comparison(obs, "group", "a", "a", "two-sided")
    table = _run(accessibility, obs, [same])["group_a_vs_a"]
    assert not table["is_da_fdr_0.05"].any()
    assert table["proba_da"].max() < 0.05


def test_one_sided_counts_only_group_one_more_accessible():
    obs = _groups()
    fold = np.ones(N_REGIONS)
    fold[5], fold[9] = 0.25, 4.0
    accessibility = _accessibility(obs, fold)
    comparisons = [make_comparison(obs, "group", "a", "b", "two-sided")]
    two_sided = _run(accessibility, obs, comparisons)["group_a_vs_b"]
    one_sided = _run(accessibility, obs, [make_comparison(obs, "group", "a", "b", "one-sided")])["group_a_vs_b"]
    assert two_sided.at["chr1:5000-5500", "is_da_fdr_0.05"] and two_sided.at["chr1:9000-9500", "is_da_fdr_0.05"]
    assert not one_sided.at["chr1:5000-5500", "is_da_fdr_0.05"] and one_sided.at["chr1:9000-9500", "is_da_fdr_0.05"]
    assert one_sided.at["chr1:5000-5500", "proba_da"] < 0.01


def test_probability_bayes_factor_and_columns():
    obs = _groups()
    settings = DASettings(n_draws=99)
    table = _run(_accessibility(obs), obs, [make_comparison(obs, "group", "a", "b", "two-sided")], settings)["group_a_vs_b"]
    assert table["proba_da"].between(0.5 / 100, 99.5 / 100).all()
    np.testing.assert_allclose(table["proba_da"] + table["proba_not_da"], 1.0)
    np.testing.assert_allclose(table["bayes_factor"], np.log(table["proba_da"] / (1 - table["proba_da"])))
    assert table["emp_prob1"].between(0, 1).all() and table["emp_prob2"].between(0, 1).all()
    np.testing.assert_allclose(table["emp_effect"], table["emp_prob1"] - table["emp_prob2"])
    assert {"lfc_mean", "lfc_median", "lfc_std", "scale1", "scale2", "is_da_fdr_0.05"} <= set(table.columns)


def test_bootstrap_spread_is_the_sampling_error_of_the_group_means():
    """lfc_std ~ sqrt(Var_a / n_a / mean_a^2 + Var_b / n_b / mean_b^2) / ln 2 (delta method)."""
    obs = _groups(400, 200)
    accessibility = _accessibility(obs, seed=4)
    table = _run(accessibility, obs, [make_comparison(obs, "group", "a", "b", "two-sided")], DASettings(n_draws=400))
    values = accessibility.numpy().astype(float)
    in_a = (obs["group"] == "a").to_numpy()
    relative_variance = [values[m].var(axis=0, ddof=1) / m.sum() / values[m].mean(axis=0) ** 2 for m in (in_a, ~in_a)]
    expected = np.sqrt(sum(relative_variance)) / np.log(2)
    ratio = table["group_a_vs_b"].sort_index(key=lambda i: i.str.split(":").str[1].str.split("-").str[0].astype(int))["lfc_std"] / expected
    assert ratio.between(0.8, 1.25).all()


def test_block_size_does_not_change_results():
    obs = _groups()
    accessibility = _accessibility(obs)
    comparisons = [make_comparison(obs, "group", "a", "rest", "one-sided")]
    small = _run(accessibility, obs, comparisons, block=3)["group_a_vs_rest"]
    large = _run(accessibility, obs, comparisons, block=50)["group_a_vs_rest"]
    pd.testing.assert_frame_equal(small.sort_index(), large.sort_index(), rtol=1e-4, atol=1e-5)


def test_rest_equals_an_explicit_second_group():
    obs = _groups()
    accessibility = _accessibility(obs)
    rest = _run(accessibility, obs, [make_comparison(obs, "group", "a", "rest", "two-sided")])["group_a_vs_rest"]
    explicit = _run(accessibility, obs, [make_comparison(obs, "group", "a", "b", "two-sided")])["group_a_vs_b"]
    np.testing.assert_allclose(rest.sort_index()["lfc_mean"], explicit.sort_index()["lfc_mean"], rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("min_proba", [0.0, 0.5])
def test_fdr_rule_against_direct_computation(min_proba):
    rng = np.random.default_rng(7)
    for _ in range(50):
        proba = np.concatenate([rng.uniform(0.9, 1, rng.integers(0, 20)), rng.uniform(0, 1, 30)])
        order = [i for i in np.argsort(-proba) if proba[i] >= min_proba]
        passing = [k for k in range(1, len(order) + 1) if np.mean(1 - proba[order[:k]]) <= 0.05]
        expected = np.zeros(len(proba), bool)
        if passing:
            expected[order[: max(passing)]] = True
        assert np.array_equal(fdr_calls(proba, 0.05, min_proba), expected)


def test_near_certain_calls_do_not_carry_improbable_regions():
    """300 regions at proba 0.9975 leave room for ~15 regions at proba 0.0025 under the FDR rule alone."""
    proba = np.array([0.9975] * 300 + [0.0025] * 40)
    assert fdr_calls(proba, 0.05, min_proba=0.0).sum() == 315
    calls = fdr_calls(proba, 0.05)
    assert calls.sum() == 300 and not calls[300:].any()


def test_bootstrap_weights_first_row_is_the_plain_mean():
    weights = bootstrap_weights(10, 5, seed=0)
    assert weights.shape == (6, 10) and (weights[0] == 1).all() and (weights[1:] > 0).all()
    assert np.array_equal(weights, bootstrap_weights(10, 5, seed=0))


def test_cluster_and_configured_comparisons():
    obs = pd.DataFrame({"leiden": ["0", "1", "2", "10"] * 5, "donor": ["x", "y"] * 10, "cell_type": ["B"] * 10 + [None] * 10})
    names = [c.name for c in cluster_comparisons(obs, "leiden", "one-sided")]
    assert names == ["leiden_0_vs_rest", "leiden_1_vs_rest", "leiden_2_vs_rest", "leiden_10_vs_rest"]
    [donor] = configured_comparisons(obs, [{"groupby": "donor", "group1": "x", "group2": "y"}])
    assert donor.name == "donor_x_vs_y" and donor.mode == "two-sided" and len(donor.cells1) == 10
    with pytest.raises(InputError, match="group 'rest' of column 'cell_type' has 0 cells"):
        make_comparison(obs, "cell_type", "B", "rest", "two-sided")
    with pytest.raises(InputError, match="groupby column 'batch' not found; expected one of"):
        make_comparison(obs, "batch", "x", "rest", "two-sided")


def test_cell_metadata_join_and_its_errors(tmp_path):
    obs = pd.DataFrame(index=pd.Index(["AAA-1", "CCC-1", "GGG-1"], name="barcode"))
    good = tmp_path / "cells.tsv"
    good.write_text("cell\tcell_type\nCCC-1\tB\nAAA-1\tNK\nTTT-1\tT\n")
    joined = join_cell_metadata(obs, good)
    assert joined.loc["AAA-1", "cell_type"] == "NK" and joined.loc["CCC-1", "cell_type"] == "B"
    assert pd.isna(joined.loc["GGG-1", "cell_type"])
    unmatched = tmp_path / "other.tsv"
    unmatched.write_text("cell\tcell_type\nXXX-1\tB\n")
    with pytest.raises(InputError, match="none of its 1 barcodes .* match the 3 cells"):
        join_cell_metadata(obs, unmatched)
    duplicated = tmp_path / "dup.tsv"
    duplicated.write_text("cell\tcell_type\nAAA-1\tB\nAAA-1\tT\n")
    with pytest.raises(InputError, match="barcode 'AAA-1' appears more than once"):
        join_cell_metadata(obs, duplicated)


def test_da_tables_formatted_once_equal_each_table_written_alone(tmp_path):
    from atacflow.steps.files import write_tsv_tables

    rng = np.random.default_rng(0)
    tables = {
        name: pd.DataFrame({"proba_da": rng.random(n), "lfc_mean": rng.normal(size=n).astype(np.float32),
                            "is_da": rng.random(n) > 0.5, "group1": name, "n_cells1": n},
                           index=pd.Index([f"chr1:{i}-{i + 500}" for i in range(n)], name="region"))
        for name, n in (("leiden_0_vs_rest", 5), ("leiden_1_vs_rest", 1), ("B_vs_T", 3))
    }
    write_tsv_tables(tables, tmp_path / "da", tmp_path / "combined.tsv")
    for name, table in tables.items():
        assert (tmp_path / "da" / f"{name}.tsv").read_text() == table.to_csv(sep="\t")
    assert (tmp_path / "combined.tsv").read_text() == pd.concat(tables.values()).to_csv(sep="\t")
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["B_vs_T.tsv", "combined.tsv", "da", "leiden_0_vs_rest.tsv",
                                                            "leiden_1_vs_rest.tsv"]
