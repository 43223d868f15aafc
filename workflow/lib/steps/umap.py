"""Rule umap: the UMAP layout of the kNN graph (umap.h5ad: the coordinates alone, for clustered.h5ad and the plots)."""

from ..provenance import record_step
from ..umap_layout import add_umap
from .cell_results import cell_results
from .files import read_h5ad, write_h5ad


def umap(neighbors_path, min_dist, seed, output):
    layout = cell_results(add_umap(read_h5ad(neighbors_path), min_dist, seed), obsm=["X_umap"], uns=["umap"])
    write_h5ad(record_step(layout, "umap", {"min_dist": min_dist, "seed": seed}), output)
