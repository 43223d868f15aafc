"""UMAP layout of a neighbor graph with umap-learn, its numba functions compiled once per machine.

umap-learn imports pynndescent, whose numba functions (some with explicit signatures, compiled at import) are not
cached: every fresh process compiled them again, 15-30 s per Snakemake job on 2 cores. While umap is imported here,
`numba.njit` and `numba.jit` default to `cache=True`, so numba writes the machine code beside the package (or in its
user cache directory when that is read-only) and later processes load it. The layout itself is umap-learn's, as
scanpy's `tl.umap` calls it: spectral initialization, then `n_epochs` of stochastic gradient descent on the fuzzy
cross-entropy of the graph's connectivities.

Above 200,000 cells the layout starts from the graph's coordinates' first two principal components instead of the spectral
embedding (umap-learn's "pca" initialization): ARPACK's solve for the graph Laplacian's eigenvectors keeps
sqrt(cells) Lanczos vectors of all cells (8 GB at 1,000,000 cells) and had not finished after 480 s there
(benchmarks/bench_cluster_scale.py). Both starts keep the global arrangement of the cell types, which a random
start loses (Kobak & Linderman, Nat. Biotechnol. 2021).
"""

import warnings
from contextlib import contextmanager

import numpy as np


DEFAULT_EPOCHS_SMALL, DEFAULT_EPOCHS_LARGE, SMALL_GRAPH_CELLS = 500, 200, 10_000
SPECTRAL_INIT_MAX_CELLS = 200_000


@contextmanager
def _numba_cached_by_default():
    import numba

    originals = numba.njit, numba.jit

    def with_cache(decorator):
        def decorate(*args, **kwargs):
            kwargs.setdefault("cache", True)
            return decorator(*args, **kwargs)

        return decorate

    numba.njit, numba.jit = with_cache(numba.njit), with_cache(numba.jit)
    try:
        yield
    finally:
        numba.njit, numba.jit = originals


def import_umap():
    """umap-learn's `umap.umap_` module, imported with numba caching on (a no-op once imported)."""
    with _numba_cached_by_default(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # e.g. numba's "cannot cache a function with dynamic globals"
        import umap.umap_
    return umap.umap_


def initialization(n_cells):
    """umap-learn's start for a graph of n_cells: "spectral" up to SPECTRAL_INIT_MAX_CELLS, "pca" above."""
    return "spectral" if n_cells <= SPECTRAL_INIT_MAX_CELLS else "pca"


def umap_layout(coordinates, connectivities, min_dist=0.2, spread=1.0, seed=0, n_epochs=None):
    """2-D UMAP coordinates (cells, 2) of the symmetric `connectivities` graph; `coordinates` (the graph's) serve the
    spectral initialization of disconnected components and, above 200,000 cells, the start. By default 500 epochs up to
    10,000 cells, 200 above (scanpy's choice)."""
    umap_functions = import_umap()
    a, b = umap_functions.find_ab_params(spread, min_dist)
    n_cells = connectivities.shape[0]
    if n_epochs is None:
        n_epochs = DEFAULT_EPOCHS_SMALL if n_cells <= SMALL_GRAPH_CELLS else DEFAULT_EPOCHS_LARGE
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        coordinates, _ = umap_functions.simplicial_set_embedding(
            data=np.asarray(coordinates, dtype=np.float32), graph=connectivities.tocoo(), n_components=2,
            initial_alpha=1.0, a=a, b=b, gamma=1.0, negative_sample_rate=5, n_epochs=n_epochs,
            init=initialization(n_cells), random_state=np.random.RandomState(seed), metric="euclidean",
            metric_kwds={}, densmap=False, densmap_kwds={}, output_dens=False,
        )
    return coordinates


def add_umap(adata, min_dist=0.2, seed=0):
    """Fill `obsm['X_umap']` (in place): the layout of the kNN graph `obsp['connectivities']` of the coordinates it
    was built on (`uns['neighbors']['params']['use_rep']`), as scanpy's `tl.umap` stores it."""
    coordinates = adata.obsm[adata.uns["neighbors"]["params"]["use_rep"]]
    adata.obsm["X_umap"] = umap_layout(coordinates, adata.obsp["connectivities"], min_dist, seed=seed)
    adata.uns["umap"] = {"params": {"min_dist": min_dist, "random_state": seed}}
    return adata
