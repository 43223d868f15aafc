"""Reads to fragments: the decision from 1s and 2s, and ceil(reads / 2) exactly."""

import numpy as np
import pytest
import scipy.sparse as sp

from atacflow.errors import InputError
from atacflow.fragments import detect_count_type, reads_to_fragments, to_fragments
from atacflow.matrix_io import read_peak_matrix
from conftest import GRANJA_1K, SIGNAC


def test_read_matrix_is_detected_from_more_twos_than_ones():
    adata = read_peak_matrix(SIGNAC)
    assert detect_count_type(adata.X) == ("reads", 142, 2675)


def test_conversion_equals_ceil_half_exactly_on_real_data():
    adata = read_peak_matrix(GRANJA_1K)
    reads = adata.X.copy()
    to_fragments(adata, "auto")
    expected = np.ceil(reads.toarray() / 2)
    np.testing.assert_array_equal(adata.X.toarray(), expected)
    assert adata.uns["fragment_conversion"]["applied"] == "reads"
    assert adata.X.nnz == reads.nnz


def test_fragment_matrix_is_kept_as_it_is():
    fragments = reads_to_fragments(read_peak_matrix(SIGNAC).X)
    n_ones, n_twos = (fragments.data == 1).sum(), (fragments.data == 2).sum()
    assert n_ones > n_twos
    adata = read_peak_matrix(SIGNAC)
    adata.X = fragments.copy()
    to_fragments(adata, "auto")
    assert (adata.X != fragments).nnz == 0
    assert adata.uns["fragment_conversion"]["detected"] == "fragments"


def test_config_overrides_detection():
    adata = read_peak_matrix(SIGNAC)
    original = adata.X.copy()
    to_fragments(adata, "fragments")
    assert (adata.X != original).nnz == 0
    assert adata.uns["fragment_conversion"] == {
        "count_type_config": "fragments", "detected": "reads", "applied": "fragments",
        "n_entries_equal_1": 142, "n_entries_equal_2": 2675,
    }


def test_ceil_half_on_small_values():
    reads = sp.csr_matrix(np.array([[1, 2, 3, 4, 0, 17]]))
    assert reads_to_fragments(reads).toarray().tolist() == [[1, 1, 2, 2, 0, 9]]


def test_unknown_count_type_is_an_error():
    with pytest.raises(InputError, match="count_type: found 'cuts'; expected one of auto, reads, fragments"):
        to_fragments(read_peak_matrix(SIGNAC), "cuts")
