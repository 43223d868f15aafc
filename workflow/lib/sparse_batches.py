"""A cells x regions CSR matrix held on the training device; only minibatches are densified.

A minibatch of B cells becomes a dense (B, regions) tensor on the device, filled from its nonzero
entries; the full matrix stays sparse, so memory grows with the nonzeros, not with cells x regions.
"""

import numpy as np
import scipy.sparse as sp
import torch
from torch.special import gammaln

from .module import library_constant


class DeviceCSR:
    """Row-sliceable CSR on a torch device.

    Per-cell library sizes l = sum_r x_r and the constants c(x) = l log l - l - sum_r log x_r! of the
    Poisson log-likelihood are computed once from the sparse entries.
    """

    def __init__(self, counts, device):
        counts = sp.csr_matrix(counts)
        counts.sum_duplicates()  # also sorts the indices
        self.shape = counts.shape
        self.device = device
        self.indptr = torch.as_tensor(counts.indptr.astype(np.int64), device=device)
        self.indices = torch.as_tensor(counts.indices.astype(np.int64), device=device)
        self.values = torch.as_tensor(counts.data.astype(np.float32), device=device)
        rows = torch.repeat_interleave(torch.arange(self.shape[0], device=device), self.indptr.diff())
        self.library_size = torch.zeros(self.shape[0], device=device).index_add_(0, rows, self.values)
        log_factorials = torch.zeros(self.shape[0], device=device).index_add_(0, rows, gammaln(self.values + 1.0))
        self.library_constant = library_constant(self.library_size, log_factorials)

    def dense_rows(self, rows):
        """The given rows (a tensor of row indices on the device) as a dense float32 (len(rows), regions) tensor."""
        starts, lengths = self.indptr[rows], self.indptr[rows + 1] - self.indptr[rows]
        offsets = torch.cumsum(lengths, 0) - lengths
        cells = torch.repeat_interleave(torch.arange(len(rows), device=self.device), lengths)
        entries = torch.arange(len(cells), device=self.device) - offsets[cells] + starts[cells]
        dense = torch.zeros(len(rows), self.shape[1], device=self.device)
        dense[cells, self.indices[entries]] = self.values[entries]
        return dense
