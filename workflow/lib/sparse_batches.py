"""A cells x regions CSR matrix held on the training device; minibatches stay sparse.

A minibatch is the list of its nonzero entries (cell in batch, region, fragments). The encoder
densifies that minibatch alone, on the device; the Poisson likelihood gathers only observed entries.
"""

from typing import NamedTuple

import numpy as np
import scipy.sparse as sp
import torch
from torch.special import gammaln

from .module import library_constant


class SparseBatch(NamedTuple):
    cells: torch.Tensor  # position in the batch of each nonzero entry
    regions: torch.Tensor  # region index of each nonzero entry
    fragments: torch.Tensor  # fragment count of each nonzero entry (float32)
    n_cells: int

    def to_dense(self, n_regions, transform=None):
        """Dense (n_cells, n_regions) minibatch of the fragments, or of transform(fragments) (zero-preserving)."""
        dense = torch.zeros(self.n_cells, n_regions, device=self.fragments.device)
        dense[self.cells, self.regions] = self.fragments if transform is None else transform(self.fragments)
        return dense


class DeviceCSR:
    """Row-sliceable CSR on a torch device.

    Per-cell library sizes l = sum_r x_r and the constants c(x) = l log l - l - sum_r log x_r! of the
    Poisson log-likelihood are computed once from the sparse entries.
    """

    def __init__(self, counts, device):
        counts = sp.csr_matrix(counts)
        counts.sort_indices()
        self.shape = counts.shape
        self.device = device
        self.indptr = torch.as_tensor(counts.indptr.astype(np.int64), device=device)
        self.indices = torch.as_tensor(counts.indices.astype(np.int64), device=device)
        self.values = torch.as_tensor(counts.data.astype(np.float32), device=device)
        rows = torch.repeat_interleave(torch.arange(self.shape[0], device=device), self.indptr.diff())
        self.library_size = torch.zeros(self.shape[0], device=device).index_add_(0, rows, self.values)
        log_factorials = torch.zeros(self.shape[0], device=device).index_add_(0, rows, gammaln(self.values + 1.0))
        self.library_constant = library_constant(self.library_size, log_factorials)

    def rows(self, rows):
        """The nonzero entries of the given rows (a tensor of row indices on the device) as a SparseBatch."""
        starts, lengths = self.indptr[rows], self.indptr[rows + 1] - self.indptr[rows]
        offsets = torch.cumsum(lengths, 0) - lengths
        cells = torch.repeat_interleave(torch.arange(len(rows), device=self.device), lengths)
        entries = torch.arange(len(cells), device=self.device) - offsets[cells] + starts[cells]
        return SparseBatch(cells, self.indices[entries], self.values[entries], len(rows))
