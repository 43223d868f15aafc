"""Scale benchmark: the atacflow pipeline on real data grown by resampling cells with replacement.

The Granja BMMC matrix (14,125 cells x 10,000 peaks, read counts) is resampled to N cells (cells drawn with
replacement, seed 0; every drawn cell keeps its real counts) and written as a Cell Ranger-style HDF5 file
(matrix/data, indices, indptr, shape, barcodes, features/id, features/feature_type) in a scratch folder. Then,
for each size, in its own freshly spawned child process, atacflow runs the same stages as bench_pipeline.py:
read_peak_matrix (the .h5) -> to_fragments + filter (regions in >= 1% of cells) -> PoissonVI training for a
FIXED small number of epochs (default 3; 500 epochs with early stopping would not fit the time budget at 200k
cells, so training is reported as seconds per epoch) -> get_latent -> the decoded profiles' coordinates (the
graph's, as the workflow) -> neighbors + ONE Leiden run at resolution 1.0 (no resolution search at scale) + UMAP,
as atacflow.clustering -> DA of every cell type vs the rest (one-sided, DASettings()).

Why DA runs on the cell types and not on the Leiden clusters here: every resampled cell keeps its real label
(written next to the .h5 as a cells TSV and joined in the read stage), but copies of one cell have identical
latents, so the kNN graph falls apart into cliques of copies and Leiden at resolution 1.0 finds thousands of
clusters (1,547 at 50k cells). DA of 1,547 clusters vs the rest took 159 s and a 12.8 GB peak; see PIPELINE.md.

Per size: wall time and peak resident memory of every stage, nonzeros, and cells x regions, to show whether
memory follows the nonzeros (sparse) or cells x regions (dense).

Usage: .venv-bench/bin/python benchmarks/bench_scale.py [DATA_FOLDER] [--sizes 14125,50000,100000,200000,400000]
       [--epochs 3] [--scvi-at 50000] [--scratch /tmp/atacflow_scale] [--deadline-min M]
Writes benchmarks/out/scale.tsv and benchmarks/out/scale_stages.json.
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from bench_common import DEFAULT_DATA, OUT, THREADS, machine_description, print_table, run_in_child  # noqa: E402

STAGES = ("import", "read", "fragments+filter", "train", "latent", "decoded", "cluster", "DA")
SEED = 0


def write_resampled(folder, n_cells, path):
    """Cells drawn with replacement (seed 0) from the real matrix, written as a Cell Ranger HDF5 (peaks x cells
    CSC, i.e. the cells x peaks CSR arrays)."""
    import h5py

    from atacflow.matrix_io import read_peak_matrix

    adata = read_peak_matrix(folder)
    picks = np.random.default_rng(SEED).choice(adata.n_obs, size=n_cells, replace=True)
    counts = adata.X[picks].tocsr()
    barcodes = np.array([f"{adata.obs_names[i]}_{k}" for k, i in enumerate(picks)], dtype="S")
    cells = pd.read_csv(Path(folder) / "cells.tsv.gz", sep="\t", index_col=0)["cell_type"]
    pd.DataFrame({"cell": barcodes.astype(str), "cell_type": cells.reindex(adata.obs_names[picks]).to_numpy()}).to_csv(
        labels_path(path), sep="\t", index=False)
    with h5py.File(path, "w") as handle:
        group = handle.create_group("matrix")
        group["data"], group["indices"], group["indptr"] = counts.data, counts.indices, counts.indptr
        group["shape"] = np.array([counts.shape[1], counts.shape[0]], dtype=np.int64)
        group["barcodes"] = barcodes
        features = group.create_group("features")
        features["id"] = np.array(list(adata.var_names), dtype="S")
        features["feature_type"] = np.array(["Peaks"] * adata.n_vars, dtype="S")
    return {"n_cells": n_cells, "nnz_raw": int(counts.nnz), "path": str(path)}


def labels_path(path):
    return Path(path).with_suffix(".cells.tsv")


def pipeline_ours_scale(path, epochs):
    from bench_stages import Stages, ours_da_stage

    stages = Stages("atacflow")
    with stages.stage("import"):
        import scanpy as sc

        from atacflow.annotations import join_cell_metadata
        from atacflow.filtering import filter_cells_and_regions
        from atacflow.fragments import to_fragments
        from atacflow.matrix_io import read_peak_matrix
        from atacflow.clustering import leiden_labels
        from atacflow.keys import DECODED_KEY, LATENT_KEY
        from atacflow.model import PoissonVI
        from atacflow.neighbors import add_neighbor_graph
        from atacflow.training import TrainingSettings
    with stages.stage("read"):
        adata = read_peak_matrix(path)
        adata.obs = join_cell_metadata(adata.obs, labels_path(path))
    stages.extra["nnz_raw"] = int(adata.X.nnz)
    with stages.stage("fragments+filter"):
        to_fragments(adata)
        adata, _ = filter_cells_and_regions(adata, 0.01, 0, 0)
    stages.extra.update({"n_cells": adata.n_obs, "n_regions": adata.n_vars, "nnz_filtered": int(adata.X.nnz)})
    with stages.stage("train"):
        model = PoissonVI(adata, device="cpu", seed=SEED)
        history = model.train(adata, TrainingSettings(max_epochs=epochs))
    stages.extra.update({"epochs": len(history), "s_per_epoch": float(history["seconds"].median()),
                         "s_per_epoch_all": history["seconds"].round(2).tolist()})
    with stages.stage("latent"):
        adata.obsm[LATENT_KEY] = model.get_latent(adata)
    with stages.stage("decoded"):  # the graph's coordinates (cluster.representation: decoded), as rule train_model
        adata.obsm[DECODED_KEY] = model.decoded_profiles(adata.obsm[LATENT_KEY])
    with stages.stage("cluster"):
        started = time.perf_counter()
        add_neighbor_graph(adata, DECODED_KEY, 15, SEED, THREADS)
        stages.extra["neighbors_s"] = time.perf_counter() - started
        started = time.perf_counter()
        leiden_labels(adata, 1.0, SEED)
        stages.extra["leiden_s"] = time.perf_counter() - started
        started = time.perf_counter()
        sc.tl.umap(adata, min_dist=0.2, random_state=SEED)
        stages.extra["umap_s"] = time.perf_counter() - started
    stages.extra["n_clusters"] = int(adata.obs["leiden"].nunique())
    ours_da_stage(stages, model, adata, "cell_type")
    return stages.result()


def pipeline_scvi_scale(path, epochs):
    """scvi-tools' recipe on the same resampled file, same fixed epochs (memory comparison)."""
    from bench_stages import Stages

    stages = Stages("scvi-tools")
    with stages.stage("import"):
        import scanpy as sc

        from atacflow.matrix_io import read_peak_matrix
        from tool_scvi import tutorial_recipe  # imports scvi-tools
    with stages.stage("read"):  # the same reader (scanpy's read_10x_h5 expects genome/feature_type Gene data)
        adata = read_peak_matrix(path)
        adata.X = adata.X.astype(np.float32)
        adata.obs["cell_type"] = pd.read_csv(labels_path(path), sep="\t", index_col=0)["cell_type"].reindex(
            adata.obs_names).to_numpy()
    stages.extra["nnz_raw"] = int(adata.X.nnz)
    model, timer = tutorial_recipe(stages, adata, 0.01, epochs)
    stages.extra.update({"epochs": len(timer.seconds), "s_per_epoch": float(np.median(timer.seconds)),
                         "s_per_epoch_all": [round(s, 2) for s in timer.seconds]})
    with stages.stage("latent"):
        adata.obsm["X_poissonvi"] = model.get_latent_representation()
    with stages.stage("cluster"):
        sc.pp.neighbors(adata, n_neighbors=15, use_rep="X_poissonvi", random_state=SEED)
        sc.tl.leiden(adata, resolution=1.0, flavor="igraph", n_iterations=2, directed=False, random_state=SEED)
        sc.tl.umap(adata, min_dist=0.2, random_state=SEED)
    stages.extra["n_clusters"] = int(adata.obs["leiden"].nunique())
    with stages.stage("DA"):
        table = model.differential_accessibility(adata, groupby="cell_type", two_sided=False, silent=True)
    stages.extra["da_calls"] = int(table["is_de_fdr_0.05"].sum())
    return stages.result()


def rows_of(result, n_cells):
    extra, by_stage = result["extra"], {row["stage"]: row for row in result["stages"]}
    row = {"tool": result["tool"], "cells (resampled)": n_cells, "regions": extra.get("n_regions"),
           "nnz raw": extra.get("nnz_raw"), "nnz filtered": extra.get("nnz_filtered"),
           "dense cells x regions MiB (float32)": n_cells * extra.get("n_regions", 0) * 4 / 2**20}
    for stage in STAGES:
        if stage in by_stage:
            row[f"{stage} s"] = by_stage[stage]["seconds"]
    row[f"train s/epoch ({extra.get('epochs')} epochs only)"] = extra.get("s_per_epoch")
    for stage in STAGES:
        if stage in by_stage:
            row[f"{stage} peak MiB"] = by_stage[stage]["peak_rss_mib"]
    row["whole pipeline s"] = sum(r["seconds"] for r in result["stages"])
    row["whole pipeline peak MiB"] = max(r["peak_rss_mib"] for r in result["stages"])
    row["n_clusters (res 1.0)"] = extra.get("n_clusters")
    row["DA comparisons (cell types vs rest)"] = extra.get("da_comparisons")
    row["others_cpu_share"] = result.get("others_cpu_share")
    row["load1 start/end"] = f"{result['stages'][0]['load1_start']:.2f}/{result['stages'][-1]['load1_end']:.2f}"
    return row


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data", nargs="?", default=str(DEFAULT_DATA))
    parser.add_argument("--sizes", default="14125,50000,100000,200000,400000")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--scvi-at", default="", help="comma-separated sizes at which to run scvi-tools too")
    parser.add_argument("--no-ours", action="store_true", help="run only the --scvi-at scvi-tools sizes")
    parser.add_argument("--out", default=str(OUT / "scale.tsv"))
    parser.add_argument("--scratch", default="/tmp/atacflow_scale")
    parser.add_argument("--deadline-min", type=float, default=None,
                        help="skip sizes not started within this many minutes of the start")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    scratch = Path(args.scratch)
    scratch.mkdir(parents=True, exist_ok=True)
    print(machine_description(), flush=True)
    began = time.perf_counter()
    rows, results, skipped = [], [], []
    sizes = [int(size) for size in args.sizes.split(",")]
    scvi_sizes = {int(size) for size in args.scvi_at.split(",") if size}
    for n_cells in sizes:
        for tool, function in (("atacflow", pipeline_ours_scale), ("scvi-tools", pipeline_scvi_scale)):
            if (tool == "scvi-tools" and n_cells not in scvi_sizes) or (tool == "atacflow" and args.no_ours):
                continue
            if args.deadline_min is not None and time.perf_counter() - began > args.deadline_min * 60:
                skipped.append(f"{tool} {n_cells}")
                print(f"skipping {tool} at {n_cells} cells: past the {args.deadline_min} min deadline", flush=True)
                continue
            path = scratch / f"granja_resampled_{n_cells}.h5"
            if not path.exists():
                info, _ = run_in_child(write_resampled, args.data, n_cells, path)
                print(f"wrote {path} ({info['nnz_raw']:,} nonzeros)", flush=True)
            print(f"[{time.strftime('%H:%M:%S')}] {tool} {n_cells} cells: start, load {os.getloadavg()[0]:.2f}",
                  flush=True)
            try:
                result, others = run_in_child(function, str(path), args.epochs)
            except Exception as error:  # a child killed for memory surfaces as BrokenProcessPool
                print(f"{tool} at {n_cells} cells FAILED: {type(error).__name__}: {error}", flush=True)
                rows.append({"tool": tool, "cells (resampled)": n_cells, "failed": f"{type(error).__name__}: {error}"})
                continue
            result["others_cpu_share"] = others
            results.append({"n_cells": n_cells, **result})
            rows.append(rows_of(result, n_cells))
            print(f"[{time.strftime('%H:%M:%S')}] {tool} {n_cells}: "
                  + ", ".join(f"{r['stage']} {r['seconds']:.1f}s/{r['peak_rss_mib']:.0f}MiB" for r in result["stages"]),
                  flush=True)
            stages_json = Path(args.out).with_name(Path(args.out).stem + "_stages.json")
            stages_json.write_text(json.dumps(results, indent=1, default=float))
            pd.DataFrame(rows).set_index(["tool", "cells (resampled)"]).T.to_csv(args.out, sep="\t")
    table = pd.DataFrame(rows).set_index(["tool", "cells (resampled)"]).T
    table.to_csv(args.out, sep="\t")
    print_table(f"Scale (cells resampled with replacement from {Path(args.data).name}; training {args.epochs} "
                f"epochs only, s/epoch; Leiden at resolution 1.0, no search); written to {args.out}", table)
    if skipped:
        print("skipped (time):", ", ".join(skipped))
    print(machine_description())


if __name__ == "__main__":
    main()
