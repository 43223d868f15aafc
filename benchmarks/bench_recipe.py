"""The latent recipe study (issue 13): PoissonVI training recipes against LSI and SnapATAC2's spectral embedding,
on every labelled set of ../shared/data, three seeds each.

Data (cells x regions, fragment counts ceil(reads / 2) from a matrix, exact fragment counts in 500 bp genome tiles
from a fragments file; every cell kept):
  granja              Granja et al. 2019 bone marrow, 14,125 cells, 10,000 peaks, 16 cell types
  granja_500/_1000/_2000   random subsets of it (cells drawn without replacement, seed 0)
  pbmc3k_sorted       BPCells' PBMC 3k sorted, 90 cells, 1,308 peaks, 6 cell types
  pbmc3k_unsorted     BPCells' PBMC 3k unsorted, 110 cells, 1,151 peaks, 11 clusters
  pbsmall             ArchR's PBSmall fragments, 150 cells, B / monocyte / T (tiles of chr5 and chr11)
  test_500            the 500 cells of tests/data/granja_bmmc_1k that tests/test_defaults.py trains on (its ARI bar)

Recipes: `old` is the recipe before this study (2% region filter, sizes int(sqrt(regions)) and int(sqrt(hidden)),
lr 1e-3, batch 128, KL warm-up 50 epochs, patience 50, min_delta 0, constant lr, at most 500 epochs); `defaults`
is what the workflow runs today (the defaults of workflow/schemas/config.schema.yaml). Any other recipe is
written as changes to a base, `key=value[+key=value...]`, keys: filter (the region filter's fraction of cells),
n_hidden, n_latent, lr, batch_size, n_epochs_kl_warmup, n_steps_kl_warmup, lr_plateau_patience,
early_stopping_patience, early_stopping_min_delta, max_epochs, dropout, weight_decay, n_layers_encoder,
n_layers_decoder, encoder_input (log1p or normalized_log1p), early_stopping_monitor (reconstruction or elbo),
batch_key (a cell annotation column as the model's batch covariate: `sample`, the donor, on the Granja sets; the
baselines correct no batch), max_kl_weight (beta after the warm-up), n_neighbors (the kNN graph's size, 15; the
baselines take this one only: `lsi+n_neighbors=30`), representation (what the graph is built on: `latent`, the
posterior means, or `decoded`, the Aitchison coordinates of the decoded profiles, decoded_profiles.py),
decoded_components (how many of their principal components with `decoded`: null, n_latent, as the workflow; 128 =
all at 128 hidden units). Recipes that differ in these three alone share one training per seed. `lsi` and
`spectral` are the baselines: LSI (binarize, TF-IDF, log1p(1e4 x), truncated SVD with 31 components dropping the
first, rows L2-normalized) and SnapATAC2's `tl.spectral` after `pp.select_features` on all regions; both get every
region held by a cell.

Each (recipe, seed): training seed = SVD / spectral seed = the seed; the kNN graph (n_neighbors) of the
representation (or the baseline's embedding) by the Euclidean and by the cosine distance; Leiden with the
resolution searched to the number of labels (bench_stages.search_resolution, Leiden seed 0); ARI and NMI against
the labels; and the ARI of Leiden at the workflow's default resolution 1.0 against the labels and against the
labels shuffled (seed 0), what a user gets and what chance gives. The model rows also give epochs, training
seconds, the best validation reconstruction loss per cell (comparable between recipes with the same region filter
only), the active latent dimensions (variance of the posterior means > 0.01) and the fraction of the decoded
profiles' Aitchison variance that their first n_latent principal components hold (decoded_variance_kept).
Each dataset runs in its own freshly spawned child process with 2 torch threads, the recipes interleaved (every
recipe with seed 0, then every recipe with seed 1, ...).

Usage: .venv-bench/bin/python benchmarks/bench_recipe.py [--datasets granja,granja_500,...] [--base old]
           [--recipes old,defaults,filter=0.01,...] [--seeds 0,1,2] [--out benchmarks/out/recipe_study.tsv]
Writes one row per (dataset, recipe, seed) and prints the mean and spread per dataset and recipe.
"""

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import yaml  # noqa: E402

from bench_common import OUT, REPO, THREADS, machine_description, print_table, run_in_child  # noqa: E402

DATA = REPO.parent / "shared" / "data"
GRANJA = DATA / "granja2019_bmmc_14k_cells_10k_peaks"
PBMC3K = DATA / "bpcells_pbmc3k_multiome_sorted_unsorted"
PBSMALL = DATA / "archr_pbsmall_fragments_150_cells"
TEST_1K = REPO / "tests" / "data" / "granja_bmmc_1k"
DATASETS = ("granja", "granja_500", "granja_1000", "granja_2000", "pbmc3k_sorted", "pbmc3k_unsorted", "pbsmall",
            "test_500")
SUBSET_SEED = 0
TILE_SIZE = 500
N_NEIGHBORS = 15
DEFAULT_RESOLUTION = 1.0
LSI_COMPONENTS = 31
BASELINES = ("lsi", "spectral")
METRICS = ("euclidean", "cosine")
OLD = {"filter": 0.02, "n_hidden": None, "n_latent": None, "lr": 1e-3, "batch_size": 128, "n_epochs_kl_warmup": 50,
       "n_steps_kl_warmup": None, "lr_plateau_patience": 0, "early_stopping_patience": 50,
       "early_stopping_min_delta": 0.0, "max_epochs": 500, "batch_key": None, "dropout": 0.1, "weight_decay": 1e-3,
       "n_layers_encoder": 2, "n_layers_decoder": 2, "encoder_input": "log1p",
       "early_stopping_monitor": "reconstruction", "max_kl_weight": 1.0, "n_neighbors": N_NEIGHBORS,
       "representation": "latent", "decoded_components": None}
GRAPH_KEYS = ("n_neighbors", "representation", "decoded_components")
BASELINE_KEYS = ("n_neighbors",)
REPRESENTATIONS = ("latent", "decoded")
MODEL_KEYS = ("n_hidden", "n_latent", "batch_key", "dropout", "n_layers_encoder", "n_layers_decoder", "encoder_input")
FLOAT_KEYS = ("filter", "lr", "early_stopping_min_delta", "dropout", "weight_decay", "max_kl_weight")
TEXT_KEYS = ("batch_key", "encoder_input", "early_stopping_monitor", "representation")


def schema_defaults():
    """The recipe the workflow runs when the config says nothing: the schema's defaults for OLD's keys (each
    dataset here is one sample, so no batch covariate)."""
    schema = yaml.safe_load((REPO / "workflow" / "schemas" / "config.schema.yaml").read_text())["properties"]
    defaults = {key: schema[section]["properties"][key]["default"]
                for section in ("model", "train") for key in OLD if key in schema[section]["properties"]}
    return {**defaults, "filter": schema["filter"]["properties"]["min_region_cell_fraction"]["default"],
            "batch_key": None, "decoded_components": None,
            **{key: schema["cluster"]["properties"][key]["default"] for key in ("n_neighbors", "representation")}}


def parse_recipe(name, base):
    """A recipe's settings: OLD, the schema defaults, or `base` with the `key=value` changes of `name`; a baseline
    (`lsi`, `spectral`) takes graph changes only (`lsi+n_neighbors=30`)."""
    if name == "old":
        return dict(OLD)
    if name == "defaults":
        return schema_defaults()
    method, *changes = name.split("+")
    if method in BASELINES:
        recipe = {"baseline": method, "n_neighbors": N_NEIGHBORS}
        if any(change.partition("=")[0] not in BASELINE_KEYS for change in changes):
            raise SystemExit(f"recipe {name!r}: a baseline takes only {', '.join(BASELINE_KEYS)}")
    else:
        recipe, changes = dict(base), [method, *changes]
    for change in changes:
        key, _, value = change.partition("=")
        if key not in OLD:
            raise SystemExit(f"recipe {name!r}: unknown key {key!r}; expected one of {', '.join(OLD)}")
        recipe[key] = (None if value == "null" else value if key in TEXT_KEYS else float(value) if key in FLOAT_KEYS
                       else int(value))
    if recipe.get("representation", "latent") not in REPRESENTATIONS:
        raise SystemExit(f"recipe {name!r}: representation {recipe['representation']!r}; expected one of "
                         f"{', '.join(REPRESENTATIONS)}")
    if recipe.get("decoded_components") and recipe.get("representation") != "decoded":
        raise SystemExit(f"recipe {name!r}: decoded_components needs representation=decoded")
    return recipe


def load_dataset(name):
    """Cells x regions fragment counts with obs['label']."""
    from atacflow.annotations import join_cell_metadata
    from atacflow.fragments import to_fragments
    from atacflow.matrix_io import read_peak_matrix

    if name.startswith("granja") or name == "test_500":
        folder = GRANJA if name.startswith("granja") else TEST_1K
        adata = read_peak_matrix(folder)
        adata.obs = join_cell_metadata(adata.obs, folder / "cells.tsv.gz")
        adata.obs["label"] = adata.obs["cell_type"]
        if name != "granja":
            size = int(name.split("_")[1])
            cells = np.sort(np.random.default_rng(SUBSET_SEED).choice(adata.n_obs, size, replace=False))
            adata = adata[cells].copy()
    elif name.startswith("pbmc3k"):
        kind = name.split("_")[1]
        adata = read_peak_matrix(PBMC3K / f"pbmc_{kind}_peaks.h5")
        metadata = pd.read_csv(PBMC3K / f"pbmc_{kind}_metadata.csv", index_col="Cells")
        adata.obs["label"] = metadata["cluster"].astype(str).reindex(adata.obs_names).to_numpy()
    elif name == "pbsmall":
        adata = _count_tiles(PBSMALL)
    else:
        raise SystemExit(f"unknown dataset {name!r}; expected one of {', '.join(DATASETS)}")
    if name != "pbsmall":
        to_fragments(adata, "auto")
    if adata.obs["label"].isna().any():
        raise SystemExit(f"{name}: {int(adata.obs['label'].isna().sum())} cells without a label")
    return adata


def _count_tiles(folder):
    import anndata as ad

    from atacflow.fragment_counting import GenomeTiles, count_fragment_file

    cells = pd.read_csv(folder / "cells.tsv.gz", sep="\t", index_col="barcode")
    counted = count_fragment_file(folder / "fragments.tsv.gz", GenomeTiles(TILE_SIZE), cells.index, threads=THREADS)
    obs = pd.DataFrame({"label": cells["cell_type"].reindex(counted.cells).to_numpy()}, index=counted.cells.astype(str))
    return ad.AnnData(X=counted.counts.astype(np.float32), obs=obs, var=pd.DataFrame(index=counted.regions.index))


def score_embedding(embedding, labels, metric, n_neighbors):
    """Leiden searched to the number of labels on the kNN graph (`n_neighbors`) of `embedding` by `metric`; ARI,
    NMI."""
    import anndata as ad

    from atacflow.clustering import leiden_labels
    from atacflow.neighbors import add_neighbor_graph
    from bench_stages import label_scores, search_resolution

    graph = ad.AnnData(obs=pd.DataFrame(index=np.arange(len(labels)).astype(str)), obsm={"embedding": embedding})
    add_neighbor_graph(graph, "embedding", min(n_neighbors, len(labels)), 0, THREADS, metric)
    n_labels = len(np.unique(labels))
    found, resolution, n_clusters, _ = search_resolution(
        lambda r: leiden_labels(graph, r).astype(str).to_numpy(), n_target=n_labels
    )
    scores = label_scores(found, labels)
    at_default = leiden_labels(graph, DEFAULT_RESOLUTION).astype(str).to_numpy()
    shuffled = np.random.default_rng(0).permutation(labels)
    return {f"ARI_{metric}": scores["ARI"], f"NMI_{metric}": scores["NMI"], f"n_clusters_{metric}": n_clusters,
            f"ARI_r1_{metric}": label_scores(at_default, labels)["ARI"],
            f"ARI_r1_shuffled_{metric}": label_scores(at_default, shuffled)["ARI"]}


def train_recipe(adata, recipe, seed):
    """Filter regions, train PoissonVI with `recipe`, return ({'latent': posterior means, 'decoded': every principal
    component of the decoded profiles' Aitchison coordinates, by variance}, facts of the run)."""
    from atacflow.filtering import filter_cells_and_regions
    from atacflow.model import PoissonVI
    from atacflow.training import TrainingSettings

    filtered, _ = filter_cells_and_regions(adata, recipe["filter"], 0, 0)
    model = PoissonVI(filtered, device="cpu", seed=seed, **{key: recipe.get(key) for key in MODEL_KEYS})
    settings = TrainingSettings(seed=seed, **{key: value for key, value in recipe.items()
                                              if key not in (*MODEL_KEYS, *GRAPH_KEYS, "filter")})
    started = time.perf_counter()
    history = model.train(filtered, settings)
    training_s = time.perf_counter() - started
    summary = model.training_summary
    latent = model.get_latent(filtered)
    decoded = model.decoded_profiles(latent, n_components=model.hyperparameters["n_hidden"])  # by variance
    variances = decoded.var(axis=0, dtype=np.float64)
    return {"latent": latent, "decoded": decoded}, {
        "n_regions": filtered.n_vars, "n_latent": model.hyperparameters["n_latent"],
        "n_hidden": model.hyperparameters["n_hidden"], "epochs": len(history),
        "best_epoch": summary["best_epoch"] + 1, "training_s": training_s,
        "s_per_epoch": float(history["seconds"].median()),
        "best_val_recon": summary["best_validation_reconstruction_loss"],
        "active_dims": summary["n_active_latent_dimensions"],
        "decoded_variance_kept": variances[:model.hyperparameters["n_latent"]].sum() / variances.sum(),
    }


def baseline_embedding(adata, method, seed):
    """LSI or SnapATAC2's spectral embedding of every region held by a cell."""
    import scipy.sparse as sp

    held = adata[:, np.asarray((adata.X > 0).sum(axis=0)).ravel() > 0]
    started = time.perf_counter()
    if method == "lsi":
        from sklearn.decomposition import TruncatedSVD

        binary = sp.csr_matrix(held.X > 0, dtype=np.float64)
        term = sp.diags(1 / np.maximum(binary.sum(axis=1).A1, 1)) @ binary
        idf = np.log1p(binary.shape[0] / (1 + binary.sum(axis=0).A1))
        tfidf = (term @ sp.diags(idf)).tocsr()
        tfidf.data = np.log1p(1e4 * tfidf.data)
        n_components = min(LSI_COMPONENTS, min(tfidf.shape) - 1)
        embedding = TruncatedSVD(n_components, random_state=seed).fit_transform(tfidf)[:, 1:]
        embedding /= np.maximum(np.linalg.norm(embedding, axis=1, keepdims=True), 1e-12)
    else:
        import anndata as ad
        import snapatac2 as snap

        snap_data = ad.AnnData(X=sp.csr_matrix(held.X, dtype=np.float32), obs=pd.DataFrame(index=held.obs_names),
                               var=pd.DataFrame(index=held.var_names))
        snap.pp.select_features(snap_data, n_features=snap_data.n_vars, verbose=False)
        snap.tl.spectral(snap_data, random_state=seed, num_threads=THREADS)
        embedding = snap_data.obsm["X_spectral"]
    return embedding, {"n_regions": held.n_vars, "training_s": time.perf_counter() - started}


def run_dataset(dataset, recipes, seeds):
    """Every (recipe, seed) on one dataset, in this (child) process."""
    import logging

    logging.getLogger("atacflow").setLevel(logging.WARNING)
    adata = load_dataset(dataset)
    labels = adata.obs["label"].astype(str).to_numpy()
    rows, trained = [], {}
    for seed in seeds:  # recipes interleaved: A, B, C, A, B, C, ... so that drift hits every recipe alike
        for name, recipe in recipes.items():
            if "baseline" in recipe:
                embedding, facts = baseline_embedding(adata, recipe["baseline"], seed)
            else:
                training = (seed, *sorted((k, v) for k, v in recipe.items() if k not in GRAPH_KEYS))
                if training not in trained:
                    trained[training] = train_recipe(adata, recipe, seed)
                representations, facts = trained[training]
                embedding = representations[recipe["representation"]]
                if recipe["representation"] == "decoded":  # the workflow's n_latent, or as many as asked for
                    embedding = embedding[:, :recipe["decoded_components"] or facts["n_latent"]]
            row = {"dataset": dataset, "n_cells": adata.n_obs, "n_labels": len(np.unique(labels)), "recipe": name,
                   "seed": seed, **facts}
            for metric in METRICS:
                row.update(score_embedding(embedding, labels, metric, recipe["n_neighbors"]))
            rows.append(row)
            print(pd.DataFrame([row]).to_string(index=False, header=len(rows) == 1,
                                                float_format=lambda v: f"{v:.4g}"), flush=True)
    return rows


def summarize(table):
    numbers = ["n_regions", "n_latent", "active_dims", "decoded_variance_kept", "epochs", "training_s",
               "best_val_recon",
               "ARI_euclidean", "ARI_cosine", "NMI_euclidean", "NMI_cosine", "ARI_r1_euclidean", "ARI_r1_cosine"]
    grouped = table.groupby(["dataset", "recipe"], sort=False)[[c for c in numbers if c in table]]
    mean, spread = grouped.mean(), grouped.std(ddof=1).fillna(0.0)
    for column in ("ARI_euclidean", "ARI_cosine"):
        mean[column] = [f"{m:.3f} +- {s:.3f}" for m, s in zip(mean[column], spread[column])]
    return mean


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", default=",".join(DATASETS))
    parser.add_argument("--base", default="old", help="the recipe that key=value recipes change: old or defaults")
    parser.add_argument("--recipes", default="old,defaults,lsi,spectral")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--out", default=str(OUT / "recipe_study.tsv"))
    args = parser.parse_args()
    base = parse_recipe(args.base, OLD)
    recipes = {name: parse_recipe(name, base) for name in args.recipes.split(",")}
    seeds = [int(seed) for seed in args.seeds.split(",")]
    OUT.mkdir(parents=True, exist_ok=True)
    print(machine_description(), flush=True)
    for name, recipe in recipes.items():
        print(f"recipe {name}: {recipe}", flush=True)
    rows = []
    for dataset in args.datasets.split(","):
        dataset_rows, others = run_in_child(run_dataset, dataset, recipes, seeds)
        rows += [{**row, "others_cpu_share": others} for row in dataset_rows]
        pd.DataFrame(rows).to_csv(args.out, sep="\t", index=False)
    table = pd.DataFrame(rows)
    print_table("mean per dataset and recipe (ARI +- standard deviation over the seeds)", summarize(table))


if __name__ == "__main__":
    main()
