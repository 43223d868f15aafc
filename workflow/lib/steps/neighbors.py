"""Rule neighbors: the exact kNN graph of the latent, which Leiden and the UMAP layout both read."""

from ..keys import LATENT_KEY
from ..neighbors import add_neighbor_graph
from ..provenance import record_step
from .cell_results import cell_results
from .files import read_h5ad, write_h5ad


def neighbors(latent_path, params, seed, threads, output):
    """The latent means and their graph (obsp distances and connectivities), without the matrix."""
    adata = add_neighbor_graph(read_h5ad(latent_path), LATENT_KEY, params["n_neighbors"], seed, threads,
                               params["metric"])
    graph = cell_results(adata, obsm=[LATENT_KEY], obsp=["distances", "connectivities"], uns=["neighbors"])
    write_h5ad(record_step(graph, "neighbors", {**params, "seed": seed}), output)
