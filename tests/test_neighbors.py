"""The exact kNN graph and its fuzzy connectivities against umap-learn's own functions; Leiden and UMAP, called
without scanpy, against scanpy's `tl.leiden` and `tl.umap`."""

import anndata as ad
import numba
import numpy as np
import pytest
import scipy.sparse as sp

from atacflow import umap_layout as layout
from atacflow.clustering import add_leiden_clusters, leiden_graph
from atacflow.errors import InputError
from atacflow.keys import LATENT_KEY
from atacflow.neighbors import add_neighbor_graph, exact_knn, fuzzy_connectivities, knn_distances, metric_knn
from atacflow.umap_layout import import_umap

fuzzy_simplicial_set = import_umap().fuzzy_simplicial_set


def _latent():
    rng = np.random.default_rng(0)
    points = np.vstack([rng.normal(center, 1.0, size=(150, 7)) for center in (0.0, 4.0, 8.0)])
    return np.vstack([points, points[:20]])  # duplicated cells, as in resampled data


def test_knn_is_exact_with_self_first():
    latent = _latent()
    indices, distances = exact_knn(latent, 15)
    assert indices.shape == distances.shape == (len(latent), 15)
    np.testing.assert_array_equal(indices[:, 0], np.arange(len(latent)))
    assert (distances[:, 0] == 0).all()
    all_distances = np.linalg.norm(latent[:, None] - latent[None], axis=-1)
    np.fill_diagonal(all_distances, np.inf)
    np.testing.assert_allclose(distances[:, 1:], np.sort(all_distances, axis=1)[:, :14], rtol=1e-10)
    assert (np.diff(distances, axis=1) >= 0).all()


def test_connectivities_equal_umap_fuzzy_simplicial_set():
    indices, distances = exact_knn(_latent(), 15)
    ours = fuzzy_connectivities(indices, distances)
    theirs, _, _ = fuzzy_simplicial_set(
        sp.coo_matrix((len(indices), 1)), 15, None, None, knn_indices=indices, knn_dists=distances
    )
    assert (ours != ours.T).nnz == 0 and ours.diagonal().sum() == 0
    np.testing.assert_allclose(ours.toarray(), theirs.toarray(), atol=1e-5)
    assert ours.max() <= 1.0


def test_distances_hold_the_other_neighbors():
    indices, distances = exact_knn(_latent(), 15)
    matrix = knn_distances(indices, distances)
    assert (np.diff(matrix.indptr) == 14).all()
    np.testing.assert_allclose(np.sort(matrix[3].data), distances[3, 1:])


def test_copies_are_at_distance_zero_in_many_dimensions():
    """Above 15 dimensions the search must still give duplicated cells distance exactly 0 (no |x|^2 expansion)."""
    rng = np.random.default_rng(1)
    points = rng.normal(5.0, 1.0, size=(200, 20))
    latent = np.vstack([points, points[:50]])
    indices, distances = exact_knn(latent, 10)
    np.testing.assert_array_equal(distances[:50, 1], 0.0)
    assert (indices[:50, 1] == np.arange(200, 250)).all()
    ours = fuzzy_connectivities(indices, distances)
    theirs, _, _ = fuzzy_simplicial_set(
        sp.coo_matrix((len(indices), 1)), 10, None, None, knn_indices=indices, knn_dists=distances
    )
    np.testing.assert_allclose(ours.toarray(), theirs.toarray(), atol=1e-5)


def test_a_cell_with_more_copies_than_neighbors_comes_first_among_them():
    """Eight copies of one cell, five neighbours: each copy lists itself first, then four other copies at 0."""
    rng = np.random.default_rng(2)
    latent = np.vstack([np.repeat(rng.normal(size=(1, 7)), 8, axis=0), rng.normal(5.0, 1.0, size=(40, 7))])
    indices, distances = exact_knn(latent, 5)
    np.testing.assert_array_equal(indices[:, 0], np.arange(len(latent)))
    for copy in range(8):
        assert set(indices[copy, 1:]) <= set(range(8)) - {copy} and len(set(indices[copy, 1:])) == 4
    np.testing.assert_array_equal(distances[:8], 0.0)


def test_more_neighbors_than_cells_names_the_setting():
    with pytest.raises(InputError, match=r"cluster.n_neighbors: found 30 for 20 cells"):
        exact_knn(np.zeros((20, 3)), 30)


def test_leiden_and_umap_equal_scanpy_on_the_same_graph():
    """Called directly (no scanpy import in the cluster and umap jobs), Leiden and UMAP give exactly what scanpy's
    tl.leiden(flavor="igraph", n_iterations=2, directed=False) and tl.umap give on our graph."""
    import scanpy as sc

    ours = add_neighbor_graph(ad.AnnData(obsm={LATENT_KEY: _latent()}), LATENT_KEY, n_neighbors=15, seed=3)
    ours = add_leiden_clusters(ours, resolution=0.8, seed=3)
    reference = ours.copy()
    layout.add_umap(ours, min_dist=0.3, seed=3)
    sc.tl.leiden(reference, resolution=0.8, flavor="igraph", n_iterations=2, directed=False, random_state=3)
    sc.tl.umap(reference, min_dist=0.3, random_state=3)
    assert ours.obs["leiden"].nunique() >= 3
    assert list(ours.obs["leiden"].cat.categories) == list(reference.obs["leiden"].cat.categories)
    np.testing.assert_array_equal(ours.obs["leiden"].to_numpy(), reference.obs["leiden"].to_numpy())
    np.testing.assert_array_equal(ours.obsm["X_umap"], reference.obsm["X_umap"])


def test_the_leiden_graph_built_in_chunks_holds_every_stored_entry_once_with_its_weight():
    connectivities = fuzzy_connectivities(*exact_knn(_latent(), 15))
    graph = leiden_graph(connectivities, chunk=1000)
    sources, targets = connectivities.nonzero()
    assert connectivities.nnz > 3000 and graph.ecount() == connectivities.nnz and not graph.is_directed()
    assert graph.get_edgelist() == [(min(i, j), max(i, j)) for i, j in zip(sources.tolist(), targets.tolist())]
    np.testing.assert_array_equal(graph.es["weight"], np.asarray(connectivities[sources, targets]).ravel())


def test_above_the_spectral_limit_the_layout_starts_from_principal_components(monkeypatch):
    """Large graphs start from the latent's first two principal components: a layout that depends on the seed
    only and keeps the three groups of cells apart."""
    latent, groups = _latent()[:450], np.repeat([0, 1, 2], 150)
    connectivities = fuzzy_connectivities(*exact_knn(latent, 15))
    spectral = layout.umap_layout(latent, connectivities, seed=1)
    monkeypatch.setattr(layout, "SPECTRAL_INIT_MAX_CELLS", 449)
    assert layout.initialization(450) == "pca" and layout.initialization(449) == "spectral"
    first, again = (layout.umap_layout(latent, connectivities, seed=1) for _ in range(2))
    np.testing.assert_array_equal(first, again)
    assert first.shape == (450, 2) and not np.allclose(first, spectral)
    neighbors, _ = exact_knn(first.astype(np.float64), 11)
    assert (groups[neighbors[:, 1:]] == groups[:, None]).mean() > 0.99


def test_numba_decorators_are_restored_after_the_cached_umap_import():
    decorators = numba.njit, numba.jit
    import_umap()
    assert (numba.njit, numba.jit) == decorators


def test_cosine_neighbors_are_one_minus_the_cosine_of_the_angle():
    latent = _latent()[:450]
    indices, distances = metric_knn(latent, 6, "cosine")
    unit = latent / np.linalg.norm(latent, axis=1, keepdims=True)
    cosine_distance = 1 - unit @ unit.T
    np.fill_diagonal(cosine_distance, -1)
    expected = np.argsort(cosine_distance, axis=1, kind="stable")[:, :6]
    assert np.array_equal(np.sort(indices, axis=1), np.sort(expected, axis=1))
    np.testing.assert_allclose(distances[:, 1:], np.take_along_axis(cosine_distance, indices[:, 1:], axis=1),
                               atol=1e-12)
    np.testing.assert_allclose(metric_knn(3 * latent, 6, "cosine")[1], distances, atol=1e-12)
    with pytest.raises(InputError, match=r"cluster.metric: found 'manhattan'; expected one of euclidean, cosine"):
        metric_knn(latent, 6, "manhattan")
