"""Rule integration: batch mixing of the samples, cells per cluster and sample, and agreement with known labels."""

import logging

import pandas as pd

from .. import plots
from ..integration import cells_per_cluster, label_agreement, mixing_score
from ..keys import CLUSTER_KEY
from ..study import SAMPLE_KEY
from .files import atomic_path, read_h5ad, write_tsv

log = logging.getLogger("atacflow")


def integration_report(clusters_path, label_key, scores_output, cells_output, figure_output):
    adata = read_h5ad(clusters_path)
    graph = adata.uns["neighbors"]["params"]  # the mixing is scored in the space and metric the clusters come from
    n_neighbors, coordinates = int(graph["n_neighbors"]), adata.obsm[graph["use_rep"]]
    scores = {"n_cells": adata.n_obs, "n_samples": adata.obs[SAMPLE_KEY].nunique(),
              "n_clusters": adata.obs[CLUSTER_KEY].nunique(),
              "batch_mixing": mixing_score(coordinates, adata.obs[SAMPLE_KEY], n_neighbors, graph["metric"]),
              "label_key": label_key or "", "ari": float("nan"), "nmi": float("nan")}
    if label_key:
        scores.update(label_agreement(adata.obs[CLUSTER_KEY], adata.obs[label_key]))
    log.info("integration: %s", scores)
    cells = cells_per_cluster(adata.obs[CLUSTER_KEY], adata.obs[SAMPLE_KEY])
    write_tsv(pd.DataFrame([scores]), scores_output, index=False)
    write_tsv(cells, cells_output)
    with atomic_path(figure_output) as temporary:
        plots.plot_cells_per_cluster(cells, scores["batch_mixing"], temporary)
