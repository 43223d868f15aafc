"""Rule cluster: Leiden clusters of the kNN graph, joined to the latent's cells (leiden.h5ad)."""

from ..clustering import add_leiden_clusters
from ..provenance import record_step
from .cell_results import join_cell_results
from .files import read_h5ad, write_h5ad


def cluster(latent_path, neighbors_path, resolution, seed, output):
    adata = join_cell_results(read_h5ad(latent_path), read_h5ad(neighbors_path), neighbors_path)
    adata = add_leiden_clusters(adata, resolution, seed)
    write_h5ad(record_step(adata, "cluster", {"resolution": resolution, "seed": seed}), output)
