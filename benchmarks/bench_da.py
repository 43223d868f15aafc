"""Differential accessibility (DA) benchmark: atacflow against scvi-tools 1.4.2 POISSONVI, with the models
that bench_training.py saved (trained here, 500 epochs at most, when missing), on the same data.

1. Null calibration: the 11_CD14.Mono.1 cells cut at random (seed 0) into halves; regions called at FDR
   0.05 by atacflow (default DASettings, delta 0.5; two- and one-sided) and by scvi-tools'
   differential_accessibility (its defaults: two-sided, delta 0.05; also one-sided, and two-sided with
   delta 0.5). Target: atacflow two-sided calls <= 1% of the regions tested.
2. Power: 17_B vs 11_CD14.Mono.1, two-sided; calls of each tool and their agreement with two
   independent pseudobulk tests on the fragment counts, both with Benjamini-Hochberg at 0.05 and
   |log2 ratio of the library-normalized pseudobulks| >= 0.5 (atacflow's delta):
   - binomial: per region, group 1's share of the region's fragments against its share of all
     fragments (a Poisson test conditional on the region's total; it ignores cell-to-cell spread);
   - Wilcoxon rank-sum of per-cell fragments / library size.
3. Speed: each of the 16 cell types against the rest, one-sided: wall time of the DA call (model loading
   excluded), peak memory of the process, total calls. Target: atacflow faster.

Each (tool, task) runs in its own spawned child process with 2 torch threads, one after the other.

Run from the repository root, after bench_training.py:
    .venv-bench/bin/python benchmarks/bench_da.py [DATA_FOLDER]
Writes benchmarks/out/da.tsv.
"""

import argparse
import time

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.stats import binomtest, false_discovery_control, mannwhitneyu

import tool_ours
from bench_common import (
    DEFAULT_DATA, MODELS, OUT, POWER_GROUPS, machine_description, prepare_data, print_table, run_in_child,
)
from bench_training import train_scvi

TASKS = ("null", "power", "speed")
FDR, MIN_ABS_LOG2_RATIO, NULL_TARGET = 0.05, 0.5, 0.01
SHOWN = ["task", "method", "delta", "n_comparisons", "n_tested", "n_calls", "pct_tested", "calls_effect_in_null",
         "min_proba", "seconds", "peak_rss_mib", "others_cpu_share"]


def parse_arguments():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", nargs="?", default=DEFAULT_DATA, help=f"10x mtx folder (default {DEFAULT_DATA})")
    return parser.parse_args()


def da_scvi(adata, task):
    """In the scvi child only: importing tool_scvi loads scvi-tools."""
    import tool_scvi

    return tool_scvi.da(adata, task)


def ensure_models(adata):
    for tool, train in (("ours", tool_ours.train), ("scvi", train_scvi)):
        if not MODELS[tool].exists():
            print(f"no model at {MODELS[tool]}: training it (500 epochs at most)")
            run_in_child(train, adata, 500)


def model_results(adata):
    rows = []
    for task in TASKS:
        for da in (tool_ours.da, da_scvi):
            results, others_cpu_share = run_in_child(da, adata, task)
            rows += [{**result, "task": task, "others_cpu_share": others_cpu_share} for result in results]
    return rows


def group_cells(obs, column, group):
    return np.flatnonzero((obs[column] == group).to_numpy())


def pseudobulk_results(adata, task, cells1, cells2):
    counts = sp.csr_matrix(adata.X)
    rows = []
    for name, test in (("pseudobulk binomial", binomial_pvalues), ("pseudobulk wilcoxon", wilcoxon_pvalues)):
        started = time.perf_counter()
        significant = pseudobulk_calls(counts, cells1, cells2, test)
        rows.append({
            "task": task, "method": name, "delta": MIN_ABS_LOG2_RATIO, "n_comparisons": 1, "n_tested": adata.n_vars,
            "calls": [adata.var_names[significant].tolist()], "n_calls": int(significant.sum()),
            "seconds": time.perf_counter() - started,
        })
    return rows


def pseudobulk_calls(counts, cells1, cells2, test):
    """BH-adjusted p <= FDR and |log2 of the library-normalized pseudobulk ratio| >= MIN_ABS_LOG2_RATIO."""
    pseudobulk1, pseudobulk2 = (np.asarray(counts[cells].sum(axis=0)).ravel() for cells in (cells1, cells2))
    log2_ratio = np.log2((pseudobulk1 + 0.5) / pseudobulk1.sum()) - np.log2((pseudobulk2 + 0.5) / pseudobulk2.sum())
    adjusted = false_discovery_control(test(counts, cells1, cells2, pseudobulk1, pseudobulk2))
    return (adjusted <= FDR) & (np.abs(log2_ratio) >= MIN_ABS_LOG2_RATIO)


def binomial_pvalues(counts, cells1, cells2, pseudobulk1, pseudobulk2):
    """Two-sided binomial test of group 1's fragments in each region given the region's total, with
    group 1's share of all fragments as the null proportion."""
    share = pseudobulk1.sum() / (pseudobulk1.sum() + pseudobulk2.sum())
    return np.array([
        binomtest(int(k1), int(k1 + k2), share).pvalue if k1 + k2 else 1.0
        for k1, k2 in zip(pseudobulk1, pseudobulk2)
    ])


def wilcoxon_pvalues(counts, cells1, cells2, pseudobulk1, pseudobulk2):
    """Two-sided Wilcoxon rank-sum test of per-cell fragments / library size (the cell's total fragments)."""
    library = np.asarray(counts.sum(axis=1)).ravel()
    normalized = sp.diags(1.0 / np.maximum(library, 1)) @ counts
    group1, group2 = normalized[cells1].toarray(), normalized[cells2].toarray()
    pvalues = mannwhitneyu(group1, group2, axis=0, method="asymptotic").pvalue
    return np.nan_to_num(pvalues, nan=1.0)  # NaN where a region has no fragments in either group


def add_agreement(table):
    """For the power task: overlap of each method's calls with each pseudobulk test's calls."""
    power = table["task"] == "power"
    for reference in ("pseudobulk binomial", "pseudobulk wilcoxon"):
        truth = set(table.loc[power & (table["method"] == reference), "calls"].iloc[0][0])
        short = reference.split()[1]
        for index in table.index[power]:
            calls = set(table.at[index, "calls"][0])
            both = len(calls & truth)
            table.at[index, f"overlap_{short}"] = both
            table.at[index, f"jaccard_{short}"] = both / max(len(calls | truth), 1)
            table.at[index, f"frac_calls_in_{short}"] = both / max(len(calls), 1)
    return table


def target_lines(table):
    def row(task, method):
        return table[(table["task"] == task) & (table["method"] == method)].iloc[0]

    def verdict(met):
        return "MET" if met else "NOT MET"

    null = row("null", "atacflow two-sided")
    ours, scvi = row("speed", "atacflow one-sided"), row("speed", "scvi one-sided")
    return [
        f"target null split, atacflow two-sided calls <= {NULL_TARGET:.0%} of regions tested: {null['n_calls']} of "
        f"{null['n_tested']} ({null['pct_tested']:.2f}%) -> {verdict(null['pct_tested'] <= 100 * NULL_TARGET)}",
        f"target 16 cell types vs rest (one-sided), atacflow faster: {ours['seconds']:.1f} s vs scvi-tools "
        f"{scvi['seconds']:.1f} s (scvi-tools / atacflow {scvi['seconds'] / ours['seconds']:.2f}x), peak memory "
        f"{ours['peak_rss_mib']:.0f} vs {scvi['peak_rss_mib']:.0f} MiB -> {verdict(ours['seconds'] < scvi['seconds'])}",
    ]


def main():
    arguments = parse_arguments()
    print(f"machine: {machine_description()}")
    adata = prepare_data(arguments.data)
    obs = adata.obs
    print(f"data: {arguments.data}: {adata.n_obs} cells x {adata.n_vars} regions; null split "
          f"{len(group_cells(obs, 'null_split', 'A'))} vs {len(group_cells(obs, 'null_split', 'B'))} cells")
    ensure_models(adata)
    rows = model_results(adata)
    rows += pseudobulk_results(adata, "null", group_cells(obs, "null_split", "A"), group_cells(obs, "null_split", "B"))
    rows += pseudobulk_results(adata, "power", *(group_cells(obs, "cell_type", group) for group in POWER_GROUPS))
    table = add_agreement(pd.DataFrame(rows))
    table["pct_tested"] = 100 * table["n_calls"] / table["n_tested"]
    table = table.sort_values("task", key=lambda task: task.map(TASKS.index), kind="stable").reset_index(drop=True)
    OUT.mkdir(parents=True, exist_ok=True)
    table.drop(columns="calls").to_csv(OUT / "da.tsv", sep="\t", index=False)
    print_table("DA: calls at FDR 0.05, wall time of the DA call, peak memory of its process", table[SHOWN])
    agreement = [column for column in table.columns if column.startswith(("overlap_", "jaccard_", "frac_calls_in_"))]
    print_table("power, 17_B vs 11_CD14.Mono.1: agreement with the pseudobulk tests",
                table.loc[table["task"] == "power", ["method", "n_calls", *agreement]])
    print("\n".join(target_lines(table)))
    print(f"machine at the end: {machine_description()}")


if __name__ == "__main__":
    main()
