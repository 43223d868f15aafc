"""How well a study's samples mix, and how its clusters agree with known labels.

Mixing: for cell i with nearest neighbours N_i in the space the clusters come from (the kNN graph's coordinates
and metric; the cell itself left out), p_is is the
fraction of N_i from sample s and H_i = -sum_s p_is log p_is. The score is mean_i H_i / H(pi), with pi the
samples' shares of all cells: 1 when neighbourhoods are as mixed as the sample proportions allow, 0 when every
neighbour comes from the cell's own sample (it can exceed 1 slightly where neighbourhoods are more even than the
proportions). With one sample there is nothing to mix and the score is not defined (NaN).
"""

import numpy as np
import pandas as pd

from .neighbors import metric_knn


def entropy(proportions, axis=-1):
    """-sum p log p (0 log 0 = 0)."""
    proportions = np.asarray(proportions, dtype=float)
    logs = np.log(np.where(proportions > 0, proportions, 1.0))
    return -(proportions * logs).sum(axis=axis)


def mixing_score(coordinates, samples, n_neighbors=15, metric="euclidean", n_jobs=1):
    """mean_i H(samples among the neighbours of i by `metric`) / H(sample proportions); NaN with one sample."""
    codes, names = pd.factorize(pd.Series(samples).astype(str))
    if len(names) < 2:
        return float("nan")
    indices, _ = metric_knn(coordinates, min(n_neighbors, len(codes)), metric, n_jobs)
    neighbours = codes[indices[:, 1:]]
    counts = np.stack([(neighbours == s).sum(axis=1) for s in range(len(names))], axis=1)
    local = entropy(counts / counts.sum(axis=1, keepdims=True))
    return float(local.mean() / entropy(np.bincount(codes) / len(codes)))


def label_agreement(clusters, labels):
    """ARI and NMI of the clusters against known labels, over the cells that have a label."""
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    labels = pd.Series(labels).astype("string")
    known = labels.notna().to_numpy()
    clusters = np.asarray(clusters).astype(str)[known]
    return {"ari": float(adjusted_rand_score(labels[known], clusters)),
            "nmi": float(normalized_mutual_info_score(labels[known], clusters)), "n_labelled_cells": int(known.sum())}


def cells_per_cluster(clusters, samples):
    """Cells per cluster (rows) and sample (columns)."""
    table = pd.crosstab(pd.Series(np.asarray(clusters), name="cluster"), pd.Series(np.asarray(samples), name="sample"))
    return table.loc[sorted(table.index, key=lambda v: (len(str(v)), str(v)))]
