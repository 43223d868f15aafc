"""The whole Snakemake workflow on 1,000,000 cells grown from the Granja set by resampling: time and peak memory
per job.

Growing the data: each new cell is a real cell type's pair of cells (A, B), drawn with replacement (seed 0) among
the cells of that type (types in their real proportions), each of their fragment counts (ceil(reads / 2)) thinned
to half (binomial, p = 1/2) and the two summed: as deep as a real cell on average, of a real cell type, and not
the copy of any one cell (plain copies have identical latents, so the kNN graph falls apart into cliques of copies
and Leiden finds thousands of clusters; see PIPELINE.md). The counts are fragments: the run says
`count_type: fragments`. The matrix is written as a Cell Ranger HDF5 file, the sheet names it alone, and
`snakemake --cores 2` runs the committed config with one change: training stops after --epochs epochs (early
stopping at 1M cells would take hours on 2 cores; the epoch time is what scales). Each job's wall time and peak
memory come from Snakemake's benchmark files; the whole run is timed from outside (GNU time: wall, largest
process).

Usage: .venv-bench/bin/python benchmarks/bench_scale_workflow.py [MTX_FOLDER] [--cells 1000000] [--epochs 3]
       [--scratch /tmp/atacflow_scale_workflow] [--snakemake .venv/bin/snakemake]
Writes benchmarks/out/scale_workflow.tsv (per job) and prints it.
"""

import argparse
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from bench_common import DEFAULT_DATA, OUT, REPO, machine_description, print_table  # noqa: E402
from bench_workflow import copy_workflow  # noqa: E402

SEED = 0


def grown_matrix(folder, n_cells):
    """(cells x peaks CSR of fragment counts, barcodes, peak names, cell types) of n_cells new cells."""
    from atacflow.fragments import to_fragments
    from atacflow.matrix_io import read_peak_matrix

    adata = read_peak_matrix(folder)
    to_fragments(adata, "reads")
    counts = adata.X.tocsr().astype(np.int32)
    types = pd.read_csv(Path(folder) / "cells.tsv.gz", sep="\t", index_col=0)["cell_type"]
    types = types.reindex(adata.obs_names).fillna("unlabelled").to_numpy()
    rng = np.random.default_rng(SEED)
    new_types = rng.choice(types, size=n_cells, replace=True)
    first, second = np.empty(n_cells, dtype=np.int64), np.empty(n_cells, dtype=np.int64)
    for cell_type in np.unique(new_types):
        members, slots = np.flatnonzero(types == cell_type), np.flatnonzero(new_types == cell_type)
        first[slots], second[slots] = rng.choice(members, len(slots)), rng.choice(members, len(slots))
    halves = []
    for picks in (first, second):
        half = counts[picks]
        half.data = rng.binomial(half.data, 0.5).astype(np.int32)
        halves.append(half)
    grown = (halves[0] + halves[1]).tocsr()
    grown.eliminate_zeros()
    barcodes = np.array([f"grown{k}-1" for k in range(n_cells)])
    return grown, barcodes, list(adata.var_names), new_types


def write_h5(path, counts, barcodes, peaks):
    """A Cell Ranger HDF5 (peaks x cells CSC, i.e. the cells x peaks CSR arrays)."""
    import h5py

    with h5py.File(path, "w") as handle:
        group = handle.create_group("matrix")
        group["data"], group["indices"], group["indptr"] = counts.data, counts.indices, counts.indptr
        group["shape"] = np.array([counts.shape[1], counts.shape[0]], dtype=np.int64)
        group["barcodes"] = barcodes.astype("S")
        features = group.create_group("features")
        features["id"] = np.array(peaks, dtype="S")
        features["feature_type"] = np.array(["Peaks"] * len(peaks), dtype="S")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data", nargs="?", default=str(DEFAULT_DATA))
    parser.add_argument("--cells", type=int, default=1_000_000)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--scratch", default="/tmp/atacflow_scale_workflow")
    parser.add_argument("--snakemake", default=str(REPO / ".venv" / "bin" / "snakemake"))
    args = parser.parse_args()
    scratch = Path(args.scratch)
    scratch.mkdir(parents=True, exist_ok=True)
    OUT.mkdir(parents=True, exist_ok=True)
    print(machine_description(), flush=True)
    started = time.perf_counter()
    counts, barcodes, peaks, _ = grown_matrix(args.data, args.cells)
    matrix = scratch / f"granja_grown_{args.cells}.h5"
    write_h5(matrix, counts, barcodes, peaks)
    print(f"grew {args.cells:,} cells x {len(peaks):,} peaks, {counts.nnz:,} nonzeros, in "
          f"{time.perf_counter() - started:.0f} s: {matrix}", flush=True)
    del counts
    workflow = scratch / "atacflow"
    copy_workflow(workflow)
    sheet, overrides = scratch / "samples.tsv", scratch / "scale.yaml"
    sheet.write_text(f"sample\tpath\ngrown\t{matrix}\n")
    overrides.write_text(f"samples: {sheet}\ncount_type: fragments\ntrain:\n  max_epochs: {args.epochs}\n")
    usage, log = scratch / "snakemake.rss", scratch / "snakemake.log"
    started = time.perf_counter()
    with open(log, "w") as output:
        completed = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", str(usage), args.snakemake, "--cores", "2",
                                    "--configfile", "config/config.yaml", str(overrides)], cwd=workflow,
                                   stdout=output, stderr=subprocess.STDOUT)
    wall = time.perf_counter() - started
    if completed.returncode:
        raise SystemExit(f"snakemake failed (exit {completed.returncode}); see {log}")
    rows = []
    for path in sorted((workflow / "results").glob("**/benchmarks/*.tsv")):
        table = pd.read_csv(path, sep="\t")
        rows.append({"job": path.stem, "s": float(table["s"].iloc[-1]),
                     "max_rss MiB": float(table["max_rss"].iloc[-1])})
    jobs = pd.DataFrame(rows).set_index("job").sort_values("s", ascending=False)
    jobs.to_csv(OUT / "scale_workflow.tsv", sep="\t")
    filtering = pd.read_csv(workflow / "results" / "study" / "qc" / "filtering.tsv", sep="\t")
    print(filtering.to_string(index=False))
    print_table(f"{args.cells:,} grown cells through `snakemake --cores 2` ({args.epochs} training epochs): "
                f"{wall:.0f} s wall, largest process {int(usage.read_text().split()[-1]) / 1024:.0f} MiB; "
                f"per job", jobs)
    history = pd.read_csv(workflow / "results" / "study" / "qc" / "training_history.tsv", sep="\t")
    print(f"training seconds per epoch: {history['seconds'].round(1).tolist()}")
    print(machine_description())


if __name__ == "__main__":
    main()
