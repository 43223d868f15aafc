"""Rule neighbors: the exact kNN graph of the cells' coordinates (config cluster.representation: the decoded profiles'
or the latent means), which Leiden and the UMAP layout both read."""

from ..keys import REPRESENTATION_KEYS
from ..neighbors import add_neighbor_graph
from ..provenance import record_step
from .cell_results import cell_results
from .files import read_h5ad, write_h5ad


def neighbors(latent_path, params, seed, threads, output):
    """The coordinates the graph is built on and the graph (obsp distances and connectivities; uns['neighbors']
    names the coordinates' obsm entry, as scanpy's use_rep), without the matrix."""
    representation = REPRESENTATION_KEYS[params["representation"]]
    adata = add_neighbor_graph(read_h5ad(latent_path), representation, params["n_neighbors"], seed, threads,
                               params["metric"])
    graph = cell_results(adata, obsm=[representation], obsp=["distances", "connectivities"], uns=["neighbors"])
    write_h5ad(record_step(graph, "neighbors", {**params, "seed": seed}), output)
