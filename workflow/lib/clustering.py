"""Leiden clusters (igraph) on the exact kNN graph of the cells' coordinates (the graph is neighbors', its UMAP
umap_layout's: each a job of its own, so that a new resolution reruns neither).

igraph is called directly rather than through scanpy, whose import alone took 4-5 s per Snakemake job; the call and
its result are those of scanpy's `tl.leiden(flavor="igraph", n_iterations=2, directed=False)`.
"""

import logging
from itertools import chain

import numpy as np
import pandas as pd

from .keys import CLUSTER_KEY

log = logging.getLogger(__name__)
LEIDEN_ITERATIONS = 2


class _SeededRandom:
    """igraph's random number interface (random, randint, getrandbits, gauss) drawn from a seeded numpy
    RandomState, so that a partition depends on the seed only (igraph's default is Python's global `random`)."""

    def __init__(self, seed):
        self._state = np.random.RandomState(seed)

    def random(self):
        return self._state.random_sample()

    def randint(self, low, high):
        return self._state.randint(low, high + 1)

    def getrandbits(self, bits):
        return self._state.tomaxint() & ((1 << bits) - 1)

    def gauss(self, mean, sd):
        return self._state.normal(mean, sd)


def leiden_graph(connectivities, chunk=1 << 20):
    """The undirected igraph Graph of a symmetric weighted adjacency: every stored entry (i, j) an edge with its
    weight, each pair twice as scanpy builds it (the same edges in the same order, hence the same partitions).
    igraph reads the edges as one stream of Python pairs, converted from the arrays `chunk` at a time: faster than
    handing it a numpy array, with no list of all pairs in memory."""
    import igraph

    entries = connectivities.tocoo()
    stored = entries.data != 0
    rows, columns, weights = entries.row[stored], entries.col[stored], entries.data[stored]
    pairs = chain.from_iterable(zip(rows[start:start + chunk].tolist(), columns[start:start + chunk].tolist())
                                for start in range(0, len(rows), chunk))
    return igraph.Graph(n=connectivities.shape[0], edges=pairs, directed=False,
                        edge_attrs={"weight": weights.astype(np.float64).tolist()})


def leiden_partition(connectivities, resolution, seed=0):
    """Leiden partition (modularity with `resolution`, edge weights, 2 iterations) of the undirected graph with
    the symmetric weighted adjacency `connectivities`; one integer label per cell."""
    import igraph
    import random

    graph = leiden_graph(connectivities)
    igraph.set_random_number_generator(_SeededRandom(seed))
    try:
        partition = graph.community_leiden(objective_function="modularity", weights="weight", resolution=resolution,
                                           n_iterations=LEIDEN_ITERATIONS)
    finally:
        igraph.set_random_number_generator(random)
    return np.asarray(partition.membership)


def leiden_labels(adata, resolution, seed=0):
    """Leiden partition of `obsp['connectivities']` into obs['leiden'] (categories "0", "1", ... in numeric order)."""
    membership = leiden_partition(adata.obsp["connectivities"], resolution, seed)
    categories = [str(label) for label in np.unique(membership)]
    adata.obs[CLUSTER_KEY] = pd.Categorical(membership.astype(str), categories=categories)
    adata.uns[CLUSTER_KEY] = {"params": {"resolution": resolution, "random_state": seed,
                                         "n_iterations": LEIDEN_ITERATIONS}}
    return adata.obs[CLUSTER_KEY]


def add_leiden_clusters(adata, resolution=1.0, seed=0):
    """Fill `obs['leiden']` (in place) from the kNN graph `obsp['connectivities']` (neighbors.add_neighbor_graph)."""
    counts = leiden_labels(adata, resolution, seed).value_counts().sort_index()
    log.info("Leiden (resolution %s): %d clusters; cells per cluster %s", resolution, len(counts), counts.to_dict())
    return adata
