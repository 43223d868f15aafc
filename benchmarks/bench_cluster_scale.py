"""The parts of the neighbors, cluster and umap jobs at scale: exact kNN, fuzzy connectivities, the igraph graph,
Leiden and UMAP, timed one by one on a real latent of up to 1,000,000 cells.

The latent is a workflow's `latent.h5ad` (by default the one `bench_scale_workflow.py` leaves behind: 1,000,000
cells grown from the Granja set by resampling, encoded by a model trained 3 epochs). For each size, a random
subset of its cells (seed 0) runs in a fresh child process the same calls those jobs make, each timed
alone. UMAP runs as the job runs it (its start chosen by size) for 1 and for 1 + `--umap-epochs` epochs: the
difference gives the seconds per epoch, and the job's 200 epochs are extrapolated from them. Above 200,000
cells, where the job starts from principal components, the spectral start it replaces is timed too, in its own
process stopped after `--spectral-limit-s`. Peak memory is the child's largest resident set.

Usage: .venv-bench/bin/python benchmarks/bench_cluster_scale.py [LATENT_H5AD] [--sizes 100000,200000,1000000]
       [--umap-epochs 10] [--spectral-limit-s 600]
Writes benchmarks/out/cluster_scale.tsv and prints it.
"""

import argparse
import multiprocessing
import sys
import time
from pathlib import Path
from queue import Empty

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from bench_common import (OUT, THREADS, machine_description, peak_rss_mib, print_table,  # noqa: E402
                          run_in_child, set_threads)

DEFAULT_LATENT = Path("/tmp/atacflow_scale_workflow/atacflow/results/study/latent.h5ad")
SEED = 0


def read_latent(path):
    """The latent means (cells x n_latent) of a latent.h5ad, read without its count matrix."""
    import h5py

    with h5py.File(path, "r") as handle:
        return handle["obsm"]["X_poissonvi"][:]


def time_parts(path, n_cells, umap_epochs):
    """Seconds of each part of the neighbors, cluster and umap jobs on n_cells random cells of the latent at `path`."""
    set_threads()
    from atacflow.clustering import leiden_graph, leiden_partition
    from atacflow.neighbors import fuzzy_connectivities, metric_knn
    from atacflow.umap_layout import import_umap, initialization, umap_layout

    latent = subset(read_latent(path), n_cells)
    row = {"cells": len(latent), "latent dims": latent.shape[1]}

    def timed(name, function, *args, **kwargs):
        start = time.perf_counter()
        result = function(*args, **kwargs)
        row[f"{name} s"] = round(time.perf_counter() - start, 2)
        print(f"{len(latent)} cells: {name} {row[f'{name} s']} s", flush=True)
        return result

    indices, distances = timed("kNN", metric_knn, latent, 15, "euclidean", THREADS)
    connectivities = timed("connectivities", fuzzy_connectivities, indices, distances)
    row["edges"] = connectivities.nnz // 2
    timed("igraph graph", leiden_graph, connectivities)
    row["clusters"] = len(np.unique(timed("Leiden incl. graph", leiden_partition, connectivities, 1.0, SEED)))
    timed("umap import", import_umap)
    row["UMAP start"] = initialization(len(latent))
    timed("UMAP start + 1 epoch", umap_layout, latent, connectivities, seed=SEED, n_epochs=1)
    timed(f"UMAP start + {umap_epochs + 1} epochs", umap_layout, latent, connectivities, seed=SEED,
          n_epochs=umap_epochs + 1)
    per_epoch = (row[f"UMAP start + {umap_epochs + 1} epochs s"] - row["UMAP start + 1 epoch s"]) / umap_epochs
    row["UMAP s per epoch"] = round(per_epoch, 3)
    row["UMAP 200 epochs s (extrapolated)"] = round(row["UMAP start + 1 epoch s"] + 199 * per_epoch, 1)
    row["peak MiB"] = round(peak_rss_mib())
    return row


def subset(latent, n_cells):
    """n_cells random rows of the latent (seed 0), in their order; all of it when n_cells is not smaller."""
    if n_cells >= len(latent):
        return latent
    return latent[np.sort(np.random.default_rng(SEED).choice(len(latent), n_cells, replace=False))]


def spectral_start(path, n_cells, queue):
    """Seconds and peak MiB of umap-learn's spectral start on the graph of n_cells cells, put on `queue`."""
    set_threads()
    from atacflow.neighbors import fuzzy_connectivities, metric_knn
    from atacflow.umap_layout import import_umap

    latent = subset(read_latent(path), n_cells)
    connectivities = fuzzy_connectivities(*metric_knn(latent, 15, "euclidean", THREADS))
    import_umap()
    from umap.spectral import spectral_layout

    start = time.perf_counter()
    spectral_layout(latent, connectivities.tocoo(), 2, np.random.RandomState(SEED))
    queue.put((round(time.perf_counter() - start, 1), round(peak_rss_mib())))


def time_spectral_start(path, n_cells, limit_s):
    """spectral_start in a fresh process stopped after limit_s seconds: (seconds or "> limit", peak MiB)."""
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=spectral_start, args=(path, n_cells, queue))
    process.start()
    try:
        return queue.get(timeout=limit_s)
    except Empty:
        return f"> {limit_s} (stopped)", None
    finally:
        process.terminate()
        process.join()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("latent", nargs="?", default=str(DEFAULT_LATENT))
    parser.add_argument("--sizes", default="100000,200000,1000000")
    parser.add_argument("--umap-epochs", type=int, default=10)
    parser.add_argument("--spectral-limit-s", type=int, default=600,
                        help="also time the spectral start above 200,000 cells, stopped after this many seconds "
                             "(the kNN graph's time included); 0 skips it")
    arguments = parser.parse_args()
    print(machine_description())
    rows = []
    for size in map(int, arguments.sizes.split(",")):
        row, _ = run_in_child(time_parts, arguments.latent, size, arguments.umap_epochs)
        if arguments.spectral_limit_s and row["UMAP start"] != "spectral":
            row["spectral start s"], row["spectral start peak MiB"] = time_spectral_start(
                arguments.latent, size, arguments.spectral_limit_s)
        rows.append(row)
    table = pd.DataFrame(rows)
    OUT.mkdir(parents=True, exist_ok=True)
    table.to_csv(OUT / "cluster_scale.tsv", sep="\t", index=False)
    print_table("The graph's, Leiden's and UMAP's parts (seconds; UMAP's 200 epochs extrapolated from 1 and 11)", table)


if __name__ == "__main__":
    main()
