"""Region and cell filters, their numbers, and the empty-result error."""

import numpy as np
import pytest

from atacflow.errors import InputError
from atacflow.filtering import filter_cells_and_regions
from atacflow.fragments import to_fragments
from atacflow.matrix_io import read_peak_matrix
from conftest import GRANJA_1K


@pytest.fixture(scope="module")
def fragments():
    return to_fragments(read_peak_matrix(GRANJA_1K))


def test_filters_follow_their_thresholds(fragments):
    filtered, stats = filter_cells_and_regions(fragments, 0.05, 30, 20)
    detected_cells = np.diff(fragments.X.tocsc().indptr)
    assert filtered.n_vars == int((detected_cells >= int(0.05 * fragments.n_obs)).sum())
    assert (np.diff(filtered.X.tocsc().indptr) >= 1).all()
    assert (filtered.obs["n_fragments"] >= 30).all() and (filtered.obs["n_regions"] >= 20).all()
    assert np.array_equal(filtered.obs["n_fragments"], np.asarray(filtered.X.sum(axis=1)).ravel())
    assert list(stats.index) == ["input", "regions_filtered", "cells_filtered"]
    assert stats.loc["input"].tolist() == [fragments.n_obs, fragments.n_vars, int(fragments.X.sum())]
    assert stats.loc["cells_filtered"].tolist() == [filtered.n_obs, filtered.n_vars, int(filtered.X.sum())]
    assert filtered.uns["filtering"]["min_cell_fragments"] == 30


def test_nothing_left_is_a_clear_error(fragments):
    with pytest.raises(InputError, match="after filtering .* cells and 0 regions remain .*lower filter"):
        filter_cells_and_regions(fragments, 0.99, 1, 1, source="sample.h5ad")
