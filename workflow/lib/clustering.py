"""Leiden clusters (igraph flavour) and UMAP with scanpy, on the exact kNN graph of the PoissonVI latent."""

import logging

import scanpy as sc

from .keys import CLUSTER_KEY, LATENT_KEY
from .neighbors import add_neighbor_graph

log = logging.getLogger(__name__)


def leiden_labels(adata, resolution, seed=0):
    """Leiden partition of `obsp['connectivities']` (igraph flavour, 2 iterations, undirected) into obs['leiden']."""
    sc.tl.leiden(adata, resolution=resolution, flavor="igraph", n_iterations=2, directed=False, random_state=seed,
                 key_added=CLUSTER_KEY)
    return adata.obs[CLUSTER_KEY]


def cluster_latent(adata, n_neighbors=15, resolution=1.0, min_dist=0.2, seed=0, n_jobs=1):
    """Fill `obs['leiden']` and `obsm['X_umap']` from `obsm['X_poissonvi']` (in place)."""
    add_neighbor_graph(adata, LATENT_KEY, n_neighbors, seed, n_jobs)
    counts = leiden_labels(adata, resolution, seed).value_counts().sort_index()
    sc.tl.umap(adata, min_dist=min_dist, random_state=seed)
    log.info("Leiden (resolution %s): %d clusters; cells per cluster %s", resolution, len(counts), counts.to_dict())
    return adata
