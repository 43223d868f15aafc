"""Several samples as one study, through the real workflow (`snakemake`), on real data.

    .venv/bin/python benchmarks/bench_study.py [--data ../shared/data] [--cores 2]

1. The Granja set's two donors (BMMC_D5T1: 3,790 cells, BMMC_D6T1: 10,335 cells, the same 10,000 peaks) written
   as two Cell Ranger folders and run as a study of two samples with the committed config/config.yaml, once with
   the sample as batch covariate (model.batch_key: sample, the default) and once without (null). Printed: batch
   mixing (1 = as mixed as the donor proportions allow), ARI and NMI of the Leiden clusters against the 16 cell
   types, clusters, epochs and the workflow's wall time.
2. The two BPCells samples, whose peak sets differ, through the merge step: the peak-merge numbers per sample.

Tables are printed and saved under benchmarks/out/study/.
"""

import argparse
import gzip
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import scipy.io
import scipy.sparse as sp

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "resources"))
from make_data_subsets import write_mtx_folder  # noqa: E402

OUT = REPO / "benchmarks" / "out" / "study"


def write_donor_folders(granja, target):
    """One Cell Ranger folder per donor; the source's `sample` (the donor) and `barcode` columns, names the workflow
    gives its own columns, become `donor` and `barcode_10x`."""
    counts = sp.csr_matrix(scipy.io.mmread(granja / "matrix.mtx.gz").T)
    cells = pd.read_csv(granja / "cells.tsv.gz", sep="\t").rename(columns={"sample": "donor", "barcode": "barcode_10x"})
    with gzip.open(granja / "peaks.bed.gz", "rt") as handle:
        peaks = handle.readlines()
    rows = []
    for donor, indices in cells.groupby("donor").indices.items():
        folder = target / donor
        if not (folder / "cells.tsv.gz").exists():
            write_mtx_folder(folder, counts[indices], cells["cell"].iloc[indices], peaks, cells.iloc[indices])
        rows.append(f"{donor}\t{folder}\t{folder / 'cells.tsv.gz'}")
    sheet = target / "samples.tsv"
    sheet.write_text("sample\tpath\tcell_metadata\n" + "\n".join(rows) + "\n")
    return sheet


def run_workflow(workdir, sheet, extra_yaml, cores, *arguments):
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "extra.yaml").write_text(extra_yaml)
    command = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "--directory", str(workdir),
               "--cores", str(cores), "--configfile", str(REPO / "config" / "config.yaml"),
               str(workdir / "extra.yaml"), "--config", f"samples={sheet}", *arguments]
    started = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"workflow failed in {workdir}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return time.perf_counter() - started


def batch_covariate_study(data, cores):
    sheet = write_donor_folders(data / "granja2019_bmmc_14k_cells_10k_peaks", OUT / "granja_donors")
    rows = []
    for setting in ("sample", "null"):
        workdir = OUT / f"granja_batch_{setting}"
        extra = f"model:\n  batch_key: {setting}\nintegration:\n  label_key: cell_type\nplots:\n  umap_columns: [cell_type]\n"
        seconds = run_workflow(workdir, sheet, extra, cores)
        study = workdir / "results" / "study"
        scores = pd.read_csv(study / "qc" / "integration.tsv", sep="\t").iloc[0]
        history = pd.read_csv(study / "qc" / "training_history.tsv", sep="\t")
        rows.append({"model.batch_key": setting, "cells": scores["n_cells"], "batch_mixing": scores["batch_mixing"],
                     "ari_cell_type": scores["ari"], "nmi_cell_type": scores["nmi"], "clusters": scores["n_clusters"],
                     "epochs": len(history), "workflow_seconds": round(seconds, 1)})
    return pd.DataFrame(rows)


def peak_merge_numbers(data, cores):
    bpcells = data / "bpcells_pbmc3k_multiome_sorted_unsorted"
    workdir = OUT / "bpcells_merge"
    workdir.mkdir(parents=True, exist_ok=True)
    sheet = workdir / "samples.tsv"
    sheet.write_text(f"sample\tpath\nsorted\t{bpcells / 'pbmc_sorted_peaks.h5'}\n"
                     f"unsorted\t{bpcells / 'pbmc_unsorted_peaks.h5'}\n")
    run_workflow(workdir, sheet, "{}\n", cores, "--until", "merge_samples")
    return pd.read_csv(workdir / "results" / "study" / "qc" / "peak_merge.tsv", sep="\t")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--cores", type=int, default=2)
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    merge = peak_merge_numbers(args.data, args.cores)
    merge.to_csv(OUT / "peak_merge_bpcells.tsv", sep="\t", index=False)
    print("Peak merge, BPCells sorted + unsorted (policy overlap):")
    print(merge.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    covariate = batch_covariate_study(args.data, args.cores)
    covariate.to_csv(OUT / "batch_covariate_granja.tsv", sep="\t", index=False)
    print("\nGranja, two donors as two samples, committed config, with and without the batch covariate:")
    print(covariate.to_string(index=False, float_format=lambda v: f"{v:.3f}"))


if __name__ == "__main__":
    main()
