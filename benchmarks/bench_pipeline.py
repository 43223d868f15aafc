"""Whole-pipeline benchmark on real data: atacflow vs the scvi-tools POISSONVI tutorial recipe vs SnapATAC2.

Each tool runs its whole pipeline in its own freshly spawned child process (one after the other), and every
stage is timed there with its own peak resident memory (see bench_stages.py):

  atacflow   read_peak_matrix -> to_fragments + filter_cells_and_regions (regions in >= 1% of cells, every cell
             kept) -> PoissonVI(seed 0).train(TrainingSettings defaults) -> get_latent -> the decoded
             profiles' coordinates -> atacflow's exact kNN graph of them (15, UMAP connectivities) + Leiden (igraph, resolution searched to 16 clusters) + UMAP (min_dist
             0.2) -> DA of every Leiden cluster vs the rest (one-sided, DASettings())
  scvi-tools read with anndata (read_mtx, barcodes, peaks) -> scvi.data.reads_to_fragments + sc.pp.filter_genes
             (min_cells = 1% of cells) -> POISSONVI.setup_anndata(layer="fragments"), POISSONVI(adata) with
             defaults, train() with defaults (seed 0: scvi.settings.seed) -> get_latent_representation ->
             scanpy neighbors (15; pynndescent) + the same Leiden search / UMAP -> differential_accessibility(groupby="leiden",
             two_sided=False) (every cluster vs the rest)
  SnapATAC2  the same anndata read (read counts) -> pp.select_features on all peaks -> tl.spectral -> pp.knn +
             tl.leiden (resolution searched to 16 clusters) + tl.umap; DA: tl.marker_regions (a pseudobulk
             z-score, not a model-based test; reported for time only)

Quality: ARI / NMI of the 16-cluster Leiden partition against the 16 cell types (cells.tsv.gz `cell_type`).

Usage: .venv-bench/bin/python benchmarks/bench_pipeline.py [DATA_FOLDER] [--max-epochs N] [--tools ours,scvi,snapatac2]
Writes benchmarks/out/pipeline.tsv (measure x tool, with ratios) and benchmarks/out/pipeline_stages.json.
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import pandas as pd  # noqa: E402

from bench_common import DEFAULT_DATA, OUT, THREADS, machine_description, print_table, run_in_child  # noqa: E402

MIN_REGION_CELL_FRACTION = 0.01
N_NEIGHBORS, MIN_DIST, SEED = 15, 0.2, 0
STAGES = ("import", "read", "fragments+filter", "train", "latent", "decoded", "cluster", "DA")
TOOLS = {"ours": "atacflow", "scvi": "scvi-tools", "snapatac2": "snapatac2"}


# ---------------------------------------------------------------- shared helpers (run inside the children)

def _read_with_anndata(folder):
    """The plain anndata/pandas read a scanpy user does for a peaks.bed mtx folder (peers/read_mtx.py), with the
    cell types joined."""
    from peers.read_mtx import read_mtx_folder

    adata = read_mtx_folder(folder)
    cells = pd.read_csv(Path(folder) / "cells.tsv.gz", sep="\t", index_col=0)
    adata.obs["cell_type"] = cells["cell_type"].reindex(adata.obs_names).to_numpy()
    return adata


def _cluster(adata, stages, neighbors):
    """neighbors(adata) -> Leiden resolution search (igraph flavour, as atacflow.clustering) -> UMAP."""
    import scanpy as sc

    from bench_stages import search_resolution

    started = time.perf_counter()
    neighbors(adata)
    neighbors_s = time.perf_counter() - started

    def leiden(resolution):
        sc.tl.leiden(adata, resolution=resolution, flavor="igraph", n_iterations=2, directed=False,
                     random_state=SEED, key_added="leiden")
        return adata.obs["leiden"].astype(str).to_numpy()

    started = time.perf_counter()
    labels, resolution, n_clusters, n_runs = search_resolution(leiden)
    search_s = time.perf_counter() - started
    adata.obs["leiden"] = pd.Categorical(labels)
    started = time.perf_counter()
    sc.tl.umap(adata, min_dist=MIN_DIST, random_state=SEED)
    umap_s = time.perf_counter() - started
    stages.extra.update({"neighbors_s": neighbors_s, "leiden_search_s": search_s, "leiden_runs": n_runs,
                         "umap_s": umap_s, "resolution": resolution, "n_clusters": n_clusters})
    return labels


# ---------------------------------------------------------------- the three pipelines (one child each)

def pipeline_ours(folder, max_epochs):
    from bench_stages import Stages, label_scores, ours_da_stage

    stages = Stages("atacflow")
    with stages.stage("import"):
        import torch  # noqa: F401

        from atacflow.annotations import join_cell_metadata
        from atacflow.filtering import filter_cells_and_regions
        from atacflow.fragments import to_fragments
        from atacflow.matrix_io import read_peak_matrix
        from atacflow.keys import DECODED_KEY, LATENT_KEY
        from atacflow.model import PoissonVI
        from atacflow.neighbors import add_neighbor_graph
        from atacflow.training import TrainingSettings
        import scanpy  # noqa: F401
    with stages.stage("read"):
        adata = read_peak_matrix(folder)
        adata.obs = join_cell_metadata(adata.obs, Path(folder) / "cells.tsv.gz")
    stages.extra["nnz_raw"] = int(adata.X.nnz)
    with stages.stage("fragments+filter"):
        to_fragments(adata)
        adata, _ = filter_cells_and_regions(adata, MIN_REGION_CELL_FRACTION, 0, 0)
    stages.extra.update({"n_cells": adata.n_obs, "n_regions": adata.n_vars, "nnz_filtered": int(adata.X.nnz)})
    with stages.stage("train"):
        model = PoissonVI(adata, device="cpu", seed=SEED)
        history = model.train(adata, TrainingSettings(max_epochs=max_epochs))
    summary = model.training_summary
    stages.extra.update({"epochs": summary["n_epochs"], "best_epoch": summary["best_epoch"] + 1,
                         "s_per_epoch": float(history["seconds"].median()),
                         "s_per_epoch_mean": float(history["seconds"].mean()),
                         "s_per_epoch_max": float(history["seconds"].max()),
                         "epoch_seconds": history["seconds"].round(3).tolist(),
                         "best_val_recon": summary["best_validation_reconstruction_loss"],
                         "kept_val_recon": summary["best_validation_reconstruction_loss"]})
    with stages.stage("latent"):
        adata.obsm[LATENT_KEY] = model.get_latent(adata)
    with stages.stage("decoded"):  # the graph's coordinates (cluster.representation: decoded), as rule train_model
        adata.obsm[DECODED_KEY] = model.decoded_profiles(adata.obsm[LATENT_KEY])
    with stages.stage("cluster"):
        labels = _cluster(adata, stages, lambda a: add_neighbor_graph(a, DECODED_KEY, N_NEIGHBORS, SEED, THREADS))
    stages.extra.update(label_scores(labels, adata.obs["cell_type"]))
    ours_da_stage(stages, model, adata, "leiden")
    return stages.result()


def pipeline_scvi(folder, max_epochs):
    from bench_stages import Stages, label_scores

    stages = Stages("scvi-tools")
    with stages.stage("import"):
        import scanpy as sc
        import scvi

        from tool_scvi import tutorial_recipe
    with stages.stage("read"):
        adata = _read_with_anndata(folder)
    stages.extra["nnz_raw"] = int(adata.X.nnz)
    model, timer = tutorial_recipe(stages, adata, MIN_REGION_CELL_FRACTION, max_epochs)
    validation = model.history["reconstruction_loss_validation"]["reconstruction_loss_validation"].to_numpy()
    stages.extra.update({"epochs": len(validation), "best_epoch": int(validation.argmin()) + 1,
                         "s_per_epoch": float(pd.Series(timer.seconds).median()),
                         "s_per_epoch_mean": float(pd.Series(timer.seconds).mean()),
                         "s_per_epoch_max": float(pd.Series(timer.seconds).max()),
                         "epoch_seconds": [round(s, 3) for s in timer.seconds],
                         "best_val_recon": float(validation.min()), "kept_val_recon": float(validation[-1])})
    with stages.stage("latent"):
        adata.obsm["X_poissonvi"] = model.get_latent_representation()
    with stages.stage("cluster"):
        labels = _cluster(adata, stages, lambda a: sc.pp.neighbors(a, n_neighbors=N_NEIGHBORS,
                                                                   use_rep="X_poissonvi", random_state=SEED))
    stages.extra.update(label_scores(labels, adata.obs["cell_type"]))
    with stages.stage("DA"):
        scvi.settings.seed = SEED
        table = model.differential_accessibility(adata, groupby="leiden", two_sided=False, silent=True)
    stages.extra.update({"da_comparisons": int(table["comparison"].nunique()),
                         "da_calls": int(table["is_de_fdr_0.05"].sum())})
    return stages.result()


def pipeline_snapatac2(folder, max_epochs):
    from bench_stages import Stages, label_scores, search_resolution

    stages = Stages("snapatac2")
    with stages.stage("import"):
        import snapatac2 as snap
    with stages.stage("read"):
        adata = _read_with_anndata(folder)
    stages.extra.update({"nnz_raw": int(adata.X.nnz), "n_cells": adata.n_obs})
    with stages.stage("fragments+filter"):
        snap.pp.select_features(adata, n_features=adata.n_vars, verbose=False)
    stages.extra["n_regions"] = int(adata.var["selected"].sum())
    with stages.stage("train"):  # the embedding: spectral
        snap.tl.spectral(adata, random_state=SEED, num_threads=THREADS)
    with stages.stage("cluster"):
        started = time.perf_counter()
        snap.pp.knn(adata, random_state=SEED)
        neighbors_s = time.perf_counter() - started
        started = time.perf_counter()
        labels, resolution, n_clusters, n_runs = search_resolution(
            lambda r: snap.tl.leiden(adata, resolution=r, random_state=SEED, inplace=False))
        search_s = time.perf_counter() - started
        adata.obs["leiden"] = pd.Categorical(labels.astype(str))
        started = time.perf_counter()
        snap.tl.umap(adata, random_state=SEED)
        stages.extra.update({"neighbors_s": neighbors_s, "leiden_search_s": search_s, "leiden_runs": n_runs,
                             "umap_s": time.perf_counter() - started, "resolution": resolution,
                             "n_clusters": n_clusters})
    stages.extra.update(label_scores(labels.astype(str), adata.obs["cell_type"]))
    with stages.stage("DA"):
        markers = snap.tl.marker_regions(adata, groupby="leiden", pvalue=0.01)
    stages.extra.update({"da_comparisons": len(markers), "da_calls": int(sum(map(len, markers.values())))})
    return stages.result()


PIPELINES = {"ours": pipeline_ours, "scvi": pipeline_scvi, "snapatac2": pipeline_snapatac2}


# ---------------------------------------------------------------- table

def summary_table(results):
    """measure x tool, with scvi-tools / atacflow and snapatac2 / atacflow ratios."""
    columns = {}
    for result in results:
        rows, stage_rows = {}, {row["stage"]: row for row in result["stages"]}
        for stage in STAGES:
            if stage in stage_rows:
                rows[f"{stage} s"] = stage_rows[stage]["seconds"]
        rows["whole pipeline s"] = sum(row["seconds"] for row in result["stages"])
        rows["whole pipeline s (no import)"] = sum(r["seconds"] for r in result["stages"] if r["stage"] != "import")
        rows["whole pipeline CPU s"] = sum(row["cpu_s"] for row in result["stages"])
        for stage in STAGES:
            if stage in stage_rows:
                rows[f"{stage} peak MiB"] = stage_rows[stage]["peak_rss_mib"]
        rows["whole pipeline peak MiB"] = max(row["peak_rss_mib"] for row in result["stages"])
        extra = result["extra"]
        for key in ("ARI", "NMI", "n_clusters", "resolution", "leiden_runs", "neighbors_s", "leiden_search_s",
                    "umap_s", "epochs", "best_epoch", "s_per_epoch", "s_per_epoch_mean", "s_per_epoch_max",
                    "best_val_recon", "kept_val_recon",
                    "da_comparisons", "da_calls", "n_cells", "n_regions", "nnz_raw", "nnz_filtered"):
            if key in extra:
                rows[key] = extra[key]
        rows["others_cpu_share"] = result["others_cpu_share"]
        rows["load1 start"] = result["stages"][0]["load1_start"]
        rows["load1 end"] = result["stages"][-1]["load1_end"]
        columns[result["tool"]] = rows
    table = pd.DataFrame(columns)
    for tool in ("scvi-tools", "snapatac2"):
        if tool in table and "atacflow" in table:
            table[f"{tool} / atacflow"] = table[tool] / table["atacflow"]
    table.index.name = "measure"
    return table


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data", nargs="?", default=str(DEFAULT_DATA))
    parser.add_argument("--max-epochs", type=int, default=None,
                        help="cap training epochs of both PoissonVI tools (default: each library's default, 500)")
    parser.add_argument("--tools", default="ours,scvi,snapatac2")
    parser.add_argument("--out", default=str(OUT / "pipeline.tsv"))
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    print(machine_description(), flush=True)
    results = []
    for key in args.tools.split(","):
        epochs = args.max_epochs if args.max_epochs is not None else (500 if key == "ours" else None)
        load = os.getloadavg()
        print(f"[{time.strftime('%H:%M:%S')}] {TOOLS[key]}: start, load average {load[0]:.2f} {load[1]:.2f}",
              flush=True)
        result, others = run_in_child(PIPELINES[key], args.data, epochs)
        result["others_cpu_share"] = others
        results.append(result)
        total = sum(row["seconds"] for row in result["stages"])
        print(f"[{time.strftime('%H:%M:%S')}] {TOOLS[key]}: {total:.1f} s, load average now "
              f"{os.getloadavg()[0]:.2f}, other processes' CPU share {others:.2f}", flush=True)
        for row in result["stages"]:
            print(f"    {row['stage']:<18}{row['seconds']:9.2f} s {row['peak_rss_mib']:9.0f} MiB peak "
                  f"load {row['load1_start']:.2f}->{row['load1_end']:.2f}", flush=True)
        Path(args.out).with_name("pipeline_stages.json").write_text(json.dumps(results, indent=1, default=float))
    table = summary_table(results)
    table.to_csv(args.out, sep="\t")
    print_table(f"Whole pipeline on {Path(args.data).name} ({THREADS} torch threads, CPU); written to {args.out}",
                table)
    print(machine_description())


if __name__ == "__main__":
    main()
