"""The exact kNN graph and its fuzzy connectivities against umap-learn's own functions."""

import numpy as np
import pytest
import scipy.sparse as sp
from umap.umap_ import fuzzy_simplicial_set

from atacflow.errors import InputError
from atacflow.neighbors import exact_knn, fuzzy_connectivities, knn_distances


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


def test_more_neighbors_than_cells_names_the_setting():
    with pytest.raises(InputError, match=r"cluster.n_neighbors: found 30 for 20 cells"):
        exact_knn(np.zeros((20, 3)), 30)
