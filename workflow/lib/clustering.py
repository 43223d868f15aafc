"""Neighbors on the PoissonVI latent, Leiden clusters (igraph flavour) and UMAP, with scanpy."""

import logging

import scanpy as sc

LATENT_KEY = "X_poissonvi"
log = logging.getLogger(__name__)


def cluster_latent(adata, n_neighbors=15, resolution=1.0, min_dist=0.2, seed=0):
    """Fill `obs['leiden']` and `obsm['X_umap']` from `obsm['X_poissonvi']` (in place)."""
    sc.pp.neighbors(adata, n_neighbors=n_neighbors, use_rep=LATENT_KEY, random_state=seed)
    sc.tl.leiden(adata, resolution=resolution, flavor="igraph", n_iterations=2, directed=False, random_state=seed)
    sc.tl.umap(adata, min_dist=min_dist, random_state=seed)
    counts = adata.obs["leiden"].value_counts().sort_index()
    log.info("Leiden (resolution %s): %d clusters; cells per cluster %s", resolution, len(counts), counts.to_dict())
    return adata
