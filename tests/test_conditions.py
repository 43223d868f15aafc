"""Conditions with samples as replicates: pseudobulk sums, the negative-binomial GLM on a hand-made case, the null
calibration on real data, the workflow's outputs, and bad designs stopped before any job."""

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from atacflow.errors import InputError
from atacflow.pseudobulk import ConditionComparison, check_design, condition_table, pseudobulks
from conftest import DONORS, GRANJA_1K, GRANJA_DONORS, UNANNOTATED, run_snakemake, write_sample_sheet


def test_pseudobulk_sums_equal_a_direct_computation():
    rng = np.random.default_rng(0)
    counts = sp.csr_matrix(rng.poisson(0.3, (60, 8)))
    obs = pd.DataFrame({"sample": np.repeat(["s1", "s2", "s3"], 20), "group": ["a", "b", "c"] * 20,
                        "donor": np.repeat(["d1", "d1", "d2"], 20)})
    summed, units = pseudobulks(counts, obs, ConditionComparison("group", "a", "b", ("donor",)))
    assert units[["sample", "condition", "donor"]].values.tolist() == [
        ["s1", "a", "d1"], ["s1", "b", "d1"], ["s2", "a", "d1"], ["s2", "b", "d1"], ["s3", "a", "d2"], ["s3", "b", "d2"]]
    for row, unit in units.iterrows():
        cells = ((obs["sample"] == unit["sample"]) & (obs["group"] == unit["condition"])).to_numpy()
        np.testing.assert_array_equal(summed[row].toarray().ravel(), counts[cells].toarray().sum(axis=0))
        assert unit["n_cells"] == cells.sum()


def test_a_region_doubled_in_one_condition_has_log2_fold_change_near_one():
    """Three donors, each with a sample of each condition; region 0 twice as accessible under 'treated'."""
    rng = np.random.default_rng(1)
    n_regions = 200
    base = rng.gamma(2.0, 1.0, n_regions)
    obs = pd.DataFrame({"sample": np.repeat([f"s{i}" for i in range(6)], 80)})
    obs["condition"] = np.where(obs["sample"].isin(["s0", "s1", "s2"]), "control", "treated")
    obs["donor"] = obs["sample"].map(dict(zip([f"s{i}" for i in range(6)], ["d1", "d2", "d3"] * 2)))
    rates = np.tile(base, (len(obs), 1))
    rates[(obs["condition"] == "treated").to_numpy(), 0] *= 2
    counts = sp.csr_matrix(rng.poisson(rates))
    comparison = ConditionComparison("condition", "treated", "control", ("donor",))
    table = condition_table(*pseudobulks(counts, obs, comparison), [f"r{i}" for i in range(n_regions)], comparison,
                            min_cells=10, fdr=0.05, scope="all")
    in_two_processes = condition_table(*pseudobulks(counts, obs, comparison), [f"r{i}" for i in range(n_regions)],
                                       comparison, min_cells=10, fdr=0.05, scope="all", n_cpus=2)
    pd.testing.assert_frame_equal(in_two_processes, table)
    assert table.loc["r0", "log2FoldChange"] == pytest.approx(1.0, abs=0.15)
    assert table.loc["r0", "is_da_padj_0.05"] and table["is_da_padj_0.05"].sum() <= 3
    assert 0 < table.loc["r0", "log2FoldChange_shrunk"] <= table.loc["r0", "log2FoldChange"] + 1e-6
    assert table.loc["r0", ["n_samples1", "n_samples2", "n_cells1", "n_cells2"]].tolist() == [3, 3, 240, 240]
    tested = table.dropna(subset=["padj"])
    assert tested["padj"].between(0, 1).all() and (tested["padj"] >= tested["pvalue"] - 1e-12).all()


def test_a_covariate_confounded_with_the_condition_is_refused():
    units = pd.DataFrame({"sample": ["s1", "s2", "s3", "s4"], "condition": ["a", "a", "b", "b"],
                          "site": ["x", "x", "y", "y"]})
    with pytest.raises(InputError, match="covariates \\['site'\\] are confounded with group"):
        check_design(units, ConditionComparison("group", "a", "b", ("site",)))


def test_designs_without_covariates_pass_and_saturated_ones_are_refused():
    units = pd.DataFrame({"sample": ["s1", "s2", "s3", "s4"], "condition": ["a", "a", "b", "b"],
                          "donor": ["d1", "d2", "d1", "d3"]})
    check_design(units, ConditionComparison("group", "a", "b"))
    with pytest.raises(InputError, match="4 pseudobulks for 4 coefficients .* leave no residual degree of freedom"):
        check_design(units, ConditionComparison("group", "a", "b", ("donor",)))
    with pytest.raises(InputError, match="covariates \\['condition'\\] are the compared column"):
        ConditionComparison("group", "a", "b", ("condition",)).check_covariates("da.conditions[0]")


def test_random_halves_of_one_cell_type_within_each_donor_call_nothing(workflow_run):
    """The null on real data: the largest cell type's cells cut at random into two 'conditions' within each
    donor, donor as covariate (paired): at most 1% of regions called (aim: none)."""
    clustered = ad.read_h5ad(workflow_run / "results" / "study" / "clustered.h5ad")
    obs = clustered.obs.copy()
    largest = obs["cell_type"].value_counts().index[0]
    obs["half"] = pd.Series(pd.NA, index=obs.index, dtype="string")
    rng = np.random.default_rng(0)
    for donor in DONORS:
        members = rng.permutation(np.flatnonzero(((obs["cell_type"] == largest) & (obs["sample"] == donor)).to_numpy()))
        obs.iloc[members[: len(members) // 2], obs.columns.get_loc("half")] = "first"
        obs.iloc[members[len(members) // 2:], obs.columns.get_loc("half")] = "second"
    comparison = ConditionComparison("half", "first", "second", ("sample",))
    summed, units = pseudobulks(clustered.X, obs, comparison)
    table = condition_table(summed, units, clustered.var_names, comparison, min_cells=2, fdr=0.05, scope="all",
                            shrink=False, n_cpus=2)
    assert len(units) == 4 and table["is_da_padj_0.05"].sum() <= 0.01 * len(table)


def test_the_workflow_writes_condition_tables_volcanoes_and_captions(workflow_run):
    results = workflow_run / "results" / "study"
    name = "cell_type_17_B_vs_11_CD14.Mono.1"
    overall = pd.read_csv(results / "conditions" / f"{name}__all.tsv", sep="\t", index_col="region")
    clustered = ad.read_h5ad(results / "clustered.h5ad")
    assert len(overall) == clustered.n_vars and set(overall["scope"]) == {"all"}
    for column in ("baseMean", "log2FoldChange", "log2FoldChange_shrunk", "lfcSE", "pvalue", "padj",
                   "is_da_padj_0.05", "n_samples1", "n_samples2", "n_cells1", "n_cells2"):
        assert column in overall.columns
    assert overall[["n_samples1", "n_samples2"]].iloc[0].tolist() == [2, 2]
    combined = pd.read_csv(results / "conditions_combined.tsv", sep="\t")
    assert "all" in set(combined["scope"])
    assert (results / "plots" / f"volcano_{name}.png").stat().st_size > 10_000
    log = (results / "logs" / "condition_da.log").read_text()
    assert "not tested" in log or "left out" in log  # clusters holding one of the two cell types only


@pytest.mark.parametrize(
    "condition, expected",
    [
        ("{column: treatment, group1: a, group2: c}", "config da.conditions[0].column: column 'treatment' is not"),
        ("{column: sample, group1: BMMC_D5T1, group2: BMMC_D6T1}",
         "config da.conditions[0]: group 'BMMC_D5T1' of column 'sample' has 1 samples ['BMMC_D5T1']; expected at "
         "least 2, since samples are the replicates of a condition test (for a descriptive comparison of cells, "
         "use da.comparisons"),
        ("{column: diet, group1: a, group2: b, covariates: [site]}",
         "covariates ['site'] are confounded with diet over the pseudobulks"),
    ],
    ids=["unknown-column", "one-sample-per-group", "confounded-covariate"],
)
def test_bad_condition_designs_fail_before_any_job(tmp_path, condition, expected):
    """Four samples whose sheet says diet a, a, b, b and site x, x, y, y: site is confounded with diet."""
    rows = [(d, GRANJA_DONORS / d, GRANJA_DONORS / d / "cells.tsv.gz") for d in DONORS]
    rows += [("third", GRANJA_1K, GRANJA_1K / "cells.tsv.gz"), ("fourth", tmp_path / "elsewhere", "")]
    sheet = write_sample_sheet(tmp_path, rows)
    lines = sheet.read_text().splitlines()
    extra = ["\tdiet\tsite", "\ta\tx", "\ta\tx", "\tb\ty", "\tb\ty"]
    sheet.write_text("\n".join(line + more for line, more in zip(lines, extra)) + "\n")
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text(f"da:\n  conditions:\n    - {condition}\n")
    result = run_snakemake(tmp_path, "--dry-run", configfiles=[UNANNOTATED, wrong], check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0 and expected in output, output[-3000:]
    assert "Traceback" not in output and not (tmp_path / "results").exists()
