"""Exact k-nearest-neighbor graph of the cells' coordinates (the decoded profiles' or the latent means') with UMAP's
fuzzy connectivities, in numpy.

scanpy's `pp.neighbors` gives the same graph (up to its approximate search) through pynndescent and
umap-learn, whose numba functions are compiled anew in every fresh process: 30 s or more per Snakemake
job on 2 cores. The coordinates have few dimensions (n_latent = int(sqrt(n_hidden)), 11 by default), where an
exact tree search is fast, and the fuzzy set below is vectorized over cells.

For cell i with neighbor distances d_i1 <= ... <= d_i(k-1) (itself excluded), UMAP sets
    rho_i = d_i1 (distance to the nearest other cell),
    sigma_i such that sum_j exp(-max(0, d_ij - rho_i) / sigma_i) = log2(k)   (bisection, 64 steps),
    w_ij = exp(-max(0, d_ij - rho_i) / sigma_i),
and symmetrizes by the fuzzy union W + W^T - W o W^T.

With the cosine metric the distance is 1 - cos(x_i, x_j), found as |u_i - u_j|^2 / 2 on the rows scaled to unit
length u = x / |x| (the same neighbours in the same order as the Euclidean search on u).
"""

import logging

import numpy as np
import scipy.sparse as sp

from .errors import InputError

BISECTION_STEPS = 64
SUM_TOLERANCE = 1e-5
MIN_SIGMA_SCALE = 1e-3
METRICS = ("euclidean", "cosine")
log = logging.getLogger(__name__)


def exact_knn(latent, n_neighbors, n_jobs=1):
    """(indices, distances), each (cells, n_neighbors): column 0 is the cell itself at distance 0, then
    its n_neighbors - 1 nearest other cells by Euclidean distance, nearest first.

    SciPy's KD-tree (`n_jobs` threads) computes each distance directly, so copies of a cell are at distance exactly
    0 (scikit-learn's brute force expands |x|^2 - 2xy + |y|^2, which does not). Its query of the n_neighbors
    nearest points holds the cell itself, which is taken out, unless copies of the cell fill them all; then the
    last of them goes. scipy.spatial is imported here, not with the module: a job that needs no neighbours (the
    integration table of one sample) saves its import."""
    from scipy.spatial import KDTree

    n_cells = latent.shape[0]
    if not 2 <= n_neighbors <= n_cells:
        raise InputError(
            f"config cluster.n_neighbors: found {n_neighbors} for {n_cells} cells; expected 2 to {n_cells} "
            "(the cell itself counts as one)"
        )
    distances, indices = KDTree(latent).query(latent, k=n_neighbors, workers=n_jobs)
    cells = np.arange(n_cells)
    itself = indices == cells[:, None]
    itself[~itself.any(axis=1), -1] = True
    others = ~itself
    return (np.hstack([cells[:, None], indices[others].reshape(n_cells, -1)]),
            np.hstack([np.zeros((n_cells, 1), dtype=distances.dtype), distances[others].reshape(n_cells, -1)]))


def smooth_knn_sigmas(distances):
    """rho and sigma per cell (UMAP's smooth_knn_dist with local_connectivity 1 and bandwidth 1)."""
    n_cells, n_neighbors = distances.shape
    target = np.log2(n_neighbors)
    others = distances[:, 1:]
    nonzero = np.where(others > 0, others, np.inf)
    rho = np.min(nonzero, axis=1)
    rho[~np.isfinite(rho)] = 0.0
    shifted = others - rho[:, None]
    low, high, sigma = np.zeros(n_cells), np.full(n_cells, np.inf), np.ones(n_cells)
    active = np.ones(n_cells, dtype=bool)
    for _ in range(BISECTION_STEPS):
        rows = np.flatnonzero(active)
        if not len(rows):
            break
        total = np.exp(-np.maximum(shifted[rows], 0.0) / sigma[rows, None]).sum(axis=1)
        converged = np.abs(total - target) < SUM_TOLERANCE
        active[rows[converged]] = False
        rows, total = rows[~converged], total[~converged]
        above = total > target
        high[rows[above]] = sigma[rows[above]]
        low[rows[~above]] = sigma[rows[~above]]
        unbounded = ~above & np.isinf(high[rows])
        sigma[rows] = np.where(unbounded, sigma[rows] * 2, (low[rows] + high[rows]) / 2)
    floor = MIN_SIGMA_SCALE * np.where(rho > 0, distances.mean(axis=1), distances.mean())
    return rho, np.maximum(sigma, floor)


def fuzzy_connectivities(indices, distances):
    """The symmetric (cells x cells) CSR of UMAP connectivities W + W^T - W o W^T (self loops excluded)."""
    rho, sigma = smooth_knn_sigmas(distances)
    weights = np.exp(-np.maximum(distances - rho[:, None], 0.0) / sigma[:, None])  # 1 where d_ij <= rho_i
    directed = _neighbor_matrix(indices, weights.astype(np.float32))
    directed.eliminate_zeros()
    transposed = directed.T.tocsr()
    union = directed + transposed - directed.multiply(transposed)
    union.eliminate_zeros()
    return union.tocsr()


def knn_distances(indices, distances):
    """The (cells x cells) CSR of distances to the k - 1 nearest other cells (scanpy's `distances`)."""
    return _neighbor_matrix(indices, distances)


def _neighbor_matrix(indices, values):
    """(cells x cells) CSR with values[i, j] at (i, indices[i, j]) for the other cells, columns 1..k-1 (column 0
    is the cell itself, as `exact_knn` returns it)."""
    n_cells, n_neighbors = indices.shape
    rows = np.repeat(np.arange(n_cells), n_neighbors - 1)
    return sp.csr_matrix((values[:, 1:].ravel(), (rows, indices[:, 1:].ravel())), shape=(n_cells, n_cells))


def metric_knn(latent, n_neighbors, metric="euclidean", n_jobs=1):
    """`exact_knn` by the Euclidean or the cosine distance (module docstring)."""
    if metric not in METRICS:
        raise InputError(f"config cluster.metric: found {metric!r}; expected one of {', '.join(METRICS)}")
    latent = np.asarray(latent, dtype=np.float64)
    if metric == "euclidean":
        return exact_knn(latent, n_neighbors, n_jobs)
    norms = np.linalg.norm(latent, axis=1, keepdims=True)
    indices, distances = exact_knn(latent / np.where(norms > 0, norms, 1.0), n_neighbors, n_jobs)
    return indices, distances**2 / 2


def add_neighbor_graph(adata, use_rep, n_neighbors=15, seed=0, n_jobs=1, metric="euclidean"):
    """Store the graph where scanpy's `pp.neighbors` would (`obsp`, `uns['neighbors']`), so that
    `tl.leiden` and `tl.umap` use it unchanged."""
    indices, distances = metric_knn(adata.obsm[use_rep], n_neighbors, metric, n_jobs)
    adata.obsp["distances"] = knn_distances(indices, distances)
    adata.obsp["connectivities"] = fuzzy_connectivities(indices, distances)
    adata.uns["neighbors"] = {
        "connectivities_key": "connectivities", "distances_key": "distances",
        "params": {"n_neighbors": n_neighbors, "method": "umap", "metric": metric, "random_state": seed,
                   "use_rep": use_rep, "knn": "exact"},
    }
    log.info("kNN graph (%s, %d neighbours counting the cell itself): %d cells, %d edges", metric, n_neighbors,
             adata.n_obs, adata.obsp["connectivities"].nnz)
    return adata
