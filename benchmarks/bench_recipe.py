"""Training recipe benchmark: atacflow's PoissonVI at several learning rates and training seeds, on real data.

For each (learning rate, seed), in its own freshly spawned child process: train with TrainingSettings(lr, seed)
(everything else at the library's defaults: AdamW, batch 128, KL warm-up 50 epochs, early stopping with
patience 50 on the validation reconstruction loss counted after the warm-up, at most 500 epochs, best weights
restored), then the exact kNN graph (15) of the latent, Leiden with the resolution searched to 16 clusters and
ARI / NMI against the 16 cell types. The validation cells are the same for every seed (split seed 0), so the
validation losses compare directly.

Usage: .venv-bench/bin/python benchmarks/bench_recipe.py [DATA_FOLDER] [--lrs 1e-4,1e-3] [--seeds 0,1,2]
Writes benchmarks/out/recipe.tsv (one row per run) and prints it with the mean and spread per learning rate.
"""

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from bench_common import DEFAULT_DATA, OUT, THREADS, machine_description, print_table, run_in_child  # noqa: E402

SPLIT_SEED = 0


def train_and_score(folder, lr, seed):
    from atacflow.clustering import LATENT_KEY, leiden_labels
    from atacflow.model import PoissonVI
    from atacflow.neighbors import add_neighbor_graph
    from atacflow.training import TrainingSettings, split_cells, train
    from bench_common import prepare_data
    from bench_stages import label_scores, search_resolution

    adata = prepare_data(folder)
    model = PoissonVI(adata, device="cpu", seed=seed)
    settings = TrainingSettings(lr=lr, seed=seed)
    train_cells, validation_cells = split_cells(adata.n_obs, settings.train_fraction, SPLIT_SEED)
    started = time.perf_counter()
    history, best_epoch = train(model.module, model._data(adata), settings, None, train_cells, validation_cells)
    training_s = time.perf_counter() - started
    adata.obsm[LATENT_KEY] = model.get_latent(adata)
    add_neighbor_graph(adata, LATENT_KEY, 15, 0, THREADS)
    labels, resolution, n_clusters, _ = search_resolution(lambda r: leiden_labels(adata, r).astype(str).to_numpy())
    return {
        "lr": lr, "seed": seed, "epochs": len(history), "best_epoch": best_epoch + 1, "training_s": training_s,
        "s_per_epoch": float(history["seconds"].median()),
        "best_val_recon": float(history["validation_reconstruction_loss"][best_epoch]),
        "best_val_kl": float(history["validation_kl"][best_epoch]),
        "resolution": resolution, "n_clusters": n_clusters, **label_scores(labels, adata.obs["cell_type"]),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data", nargs="?", default=str(DEFAULT_DATA))
    parser.add_argument("--lrs", default="1e-4,1e-3")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--out", default=str(OUT / "recipe.tsv"))
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    print(machine_description(), flush=True)
    rows = []
    for lr in map(float, args.lrs.split(",")):
        for seed in map(int, args.seeds.split(",")):
            row, others = run_in_child(train_and_score, args.data, lr, seed)
            rows.append({**row, "others_cpu_share": others})
            print(pd.DataFrame([rows[-1]]).to_string(index=False, float_format=lambda v: f"{v:.4g}"), flush=True)
    table = pd.DataFrame(rows)
    table.to_csv(args.out, sep="\t", index=False)
    print_table("runs", table.set_index(["lr", "seed"]))
    summary = table.groupby("lr")[["epochs", "training_s", "s_per_epoch", "best_val_recon", "ARI", "NMI"]]
    print_table("mean per learning rate", summary.mean())
    print_table("standard deviation per learning rate", summary.std(ddof=1).replace(np.nan, 0.0))


if __name__ == "__main__":
    main()
