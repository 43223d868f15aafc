"""Rule clustered: the clusters and their UMAP in one AnnData (clustered.h5ad, as scanpy users open it); the plots
read the two files the same way."""

from .cell_results import join_cell_results
from .files import read_h5ad, write_h5ad


def read_clustered(clusters_path, umap_path):
    """leiden.h5ad with the layout of umap.h5ad (obsm['X_umap'], uns['umap'] and its provenance)."""
    return join_cell_results(read_h5ad(clusters_path), read_h5ad(umap_path), umap_path)


def clustered(clusters_path, umap_path, output):
    write_h5ad(read_clustered(clusters_path, umap_path), output)
