"""Calibration of the condition test (pseudobulk per sample, negative-binomial GLM) on real data.

    .venv/bin/python benchmarks/bench_conditions.py [--study benchmarks/out/study/granja_batch_sample/results/study]

Uses the Granja study of two donors that `bench_study.py` runs through the workflow (two samples, batch covariate
on). Printed and saved under benchmarks/out/study/:
1. Null: within each donor, the cells of one Leiden cluster cut at random into halves labelled as two
   conditions, the donor as covariate (paired); the three largest clusters x three random cuts. Expected: at
   most 1% of regions called at adjusted p < 0.05 (aim: none).
2. Real: B cells (17_B) vs CD14 monocytes (11_CD14.Mono.1) as the two "conditions", donor as covariate; the calls,
   and their overlap with the model-based DA's calls for the same two groups (two-sided, posterior expected FDR).
"""

import argparse
import time
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd

from atacflow.comparisons import make_comparison
from atacflow.da import DASettings, differential_accessibility, model_accessibility_blocks
from atacflow.model import PoissonVI
from atacflow.pseudobulk import ConditionComparison, condition_table, pseudobulks

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "benchmarks" / "out" / "study"
FDR, MIN_CELLS = 0.05, 10


def run(adata, obs, comparison, scope):
    summed, units = pseudobulks(adata.X, obs, comparison)
    started = time.perf_counter()
    table = condition_table(summed, units, adata.var_names, comparison, MIN_CELLS, FDR, scope, shrink=False)
    return table, time.perf_counter() - started, units


def null_calibration(adata):
    rows = []
    for cluster in adata.obs["leiden"].value_counts().index[:3]:
        for seed in range(3):
            obs = adata.obs.copy()
            obs["half"] = pd.Series(pd.NA, index=obs.index, dtype="string")
            rng = np.random.default_rng(seed)
            for sample in obs["sample"].unique():
                members = rng.permutation(np.flatnonzero(((obs["leiden"] == cluster) & (obs["sample"] == sample))))
                obs.iloc[members[: len(members) // 2], obs.columns.get_loc("half")] = "first"
                obs.iloc[members[len(members) // 2:], obs.columns.get_loc("half")] = "second"
            table, seconds, units = run(adata, obs, ConditionComparison("half", "first", "second", ("sample",)),
                                        f"leiden_{cluster}")
            tested = table["padj"].notna().sum()
            rows.append({"cluster": cluster, "seed": seed, "pseudobulks": len(units),
                         "cells": int(units["n_cells"].sum()), "regions": len(table), "tested": int(tested),
                         "called": int(table[f"is_da_padj_{FDR}"].sum()),
                         "called_fraction": table[f"is_da_padj_{FDR}"].mean(),
                         "p_below_0.05": float((table["pvalue"] < 0.05).sum() / max(tested, 1)),
                         "seconds": round(seconds, 1)})
    return pd.DataFrame(rows)


def real_contrast(adata, model_dir):
    comparison = ConditionComparison("cell_type", "17_B", "11_CD14.Mono.1", ("sample",))
    table, seconds, units = run(adata, adata.obs, comparison, "all")
    pseudobulk_calls = set(table.index[table[f"is_da_padj_{FDR}"]])
    model = PoissonVI.load(model_dir, adata, "cpu")
    settings = DASettings()
    model_comparison = make_comparison(adata.obs, "cell_type", "17_B", "11_CD14.Mono.1", "two-sided")
    model_table = differential_accessibility(model_accessibility_blocks(model, adata, settings), adata.X,
                                             adata.var_names, [model_comparison], settings)[model_comparison.name]
    model_calls = set(model_table.index[model_table[f"is_da_fdr_{settings.fdr_target}"]])
    both = pseudobulk_calls & model_calls
    return pd.DataFrame([{
        "regions": len(table), "pseudobulks": len(units), "pseudobulk_calls": len(pseudobulk_calls),
        "model_da_calls": len(model_calls), "both": len(both),
        "share_of_pseudobulk_calls_also_model": len(both) / max(len(pseudobulk_calls), 1),
        "jaccard": len(both) / max(len(pseudobulk_calls | model_calls), 1),
        "same_direction": float(np.mean([np.sign(table.at[r, "log2FoldChange"]) == np.sign(model_table.at[r, "lfc_mean"])
                                         for r in both])) if both else float("nan"),
        "seconds": round(seconds, 1)}])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--study", type=Path, default=OUT / "granja_batch_sample" / "results" / "study")
    args = parser.parse_args()
    if not (args.study / "clustered.h5ad").exists():
        raise SystemExit(f"{args.study / 'clustered.h5ad'} is missing: run benchmarks/bench_study.py first")
    adata = ad.read_h5ad(args.study / "clustered.h5ad")
    null = null_calibration(adata)
    null.to_csv(OUT / "conditions_null.tsv", sep="\t", index=False)
    print(f"Null: random halves of one cluster within each donor, donor as covariate ({adata.n_vars} regions):")
    print(null.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    real = real_contrast(adata, args.study / "model")
    real.to_csv(OUT / "conditions_real.tsv", sep="\t", index=False)
    print("\nReal: 17_B vs 11_CD14.Mono.1 as conditions, donor as covariate; overlap with the model-based DA:")
    print(real.to_string(index=False, float_format=lambda v: f"{v:.3f}"))


if __name__ == "__main__":
    main()
