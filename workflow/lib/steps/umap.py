"""Rule umap: the UMAP layout of the clusters' kNN graph."""

from ..provenance import record_step
from ..umap_layout import add_umap
from .files import read_h5ad, write_h5ad


def umap(clusters_path, min_dist, seed, output):
    adata = add_umap(read_h5ad(clusters_path), min_dist, seed)
    write_h5ad(record_step(adata, "umap", {"min_dist": min_dist, "seed": seed}), output)
