"""A cells x regions CSR matrix held on the training device, and its minibatches, which stay sparse.

A minibatch of B cells is the list of its nonzero entries (cell, region, count), in CSR order: the model reads it
as it is (the encoder's first layer and the Poisson loss touch only the nonzeros; only the first layer's weight
gradient densifies a minibatch, where that is faster), and the full matrix is never densified: memory grows with
the nonzeros, not with cells x regions.
"""

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import torch
from torch.special import gammaln

from .module import library_constant


@dataclass(frozen=True)
class SparseRows:
    """B cells' nonzero entries in CSR order: entry e belongs to cell `cells[e]` (0..B-1) and region `regions[e]`
    (position `entries[e]` = regions[e] * B + cells[e] of a flattened (regions, B) array), with `counts[e]`
    fragments and `inputs[e]` the encoder's input value of that entry (DeviceCSR); cell b's entries start at
    `offsets[b]`."""

    n_cells: int
    n_regions: int
    offsets: torch.Tensor
    cells: torch.Tensor
    regions: torch.Tensor
    entries: torch.Tensor
    counts: torch.Tensor
    inputs: torch.Tensor

    def to_dense(self, values=None):
        """The (B, regions) array of `values` (default: the counts) at the entries, zeros elsewhere: the transpose
        of a contiguous (regions, B) array."""
        values = self.counts if values is None else values
        dense = torch.zeros(self.n_regions * self.n_cells, dtype=values.dtype, device=values.device)
        return dense.scatter_(0, self.entries, values).view(self.n_regions, self.n_cells).T


class DeviceCSR:
    """Row-sliceable CSR on a torch device.

    Per-cell library sizes l = sum_r x_r and the constants c(x) = l log l - l - sum_r log x_r! of the
    Poisson log-likelihood, and the encoder's input value of every entry, are computed once: log1p(x_r), or with
    `input_scale` s the depth-normalized log1p(s x_r / l), so that cells of different depths with the same
    profile give the encoder the same input.
    """

    def __init__(self, counts, device, input_scale=None):
        counts = sp.csr_matrix(counts)
        counts.sum_duplicates()  # also sorts the indices
        self.shape = counts.shape
        self.device = device
        self.indptr = torch.as_tensor(counts.indptr.astype(np.int64), device=device)
        self.indices = torch.as_tensor(counts.indices.astype(np.int64), device=device)
        self.values = torch.as_tensor(counts.data.astype(np.float32), device=device)
        rows = torch.repeat_interleave(torch.arange(self.shape[0], device=device), self.indptr.diff())
        self.library_size = torch.zeros(self.shape[0], device=device).index_add_(0, rows, self.values)
        self.inputs = torch.log1p(
            self.values if input_scale is None else self.values * (input_scale / self.library_size[rows])
        )
        log_factorials = torch.zeros(self.shape[0], device=device).index_add_(0, rows, gammaln(self.values + 1.0))
        self.library_constant = library_constant(self.library_size, log_factorials)

    def minibatches(self, order, batch_size, chunk_batches=32):
        """The rows `order` (a tensor of row indices on the device) in consecutive minibatches of `batch_size`:
        (row indices, SparseRows, library sizes, constants c(x)) each, the SparseRows the same as `rows` gives.
        The entries of `chunk_batches` minibatches are gathered at once, each with its cell's number within its
        minibatch and its position in a full minibatch's (regions, B) logits, and each minibatch is sliced from
        them: a few large gathers instead of a dozen small ones per step, and memory bounded by the chunk."""
        for chunk in order.split(batch_size * chunk_batches):
            offsets, cells, positions = self._entries(chunk, torch.arange(len(chunk), device=self.device) % batch_size)
            regions, counts, inputs = self.indices[positions], self.values[positions], self.inputs[positions]
            entries = regions * batch_size + cells
            bounds = offsets[::batch_size].tolist() + [len(cells)]
            library_size, constant = self.library_size[chunk], self.library_constant[chunk]
            for first, start, end in zip(range(0, len(chunk), batch_size), bounds[:-1], bounds[1:], strict=True):
                n_cells = min(batch_size, len(chunk) - first)
                rows, batch_entries = slice(first, first + n_cells), slice(start, end)
                positions_in_logits = entries[batch_entries] if n_cells == batch_size else \
                    regions[batch_entries] * n_cells + cells[batch_entries]  # the last, shorter minibatch
                batch = SparseRows(n_cells, self.shape[1], offsets[rows] - start, cells[batch_entries],
                                   regions[batch_entries], positions_in_logits, counts[batch_entries],
                                   inputs[batch_entries])
                yield chunk[rows], batch, library_size[rows], constant[rows]

    def rows(self, rows):
        """The given rows (a tensor of row indices on the device) as SparseRows, in the order given."""
        offsets, cells, positions = self._entries(rows, torch.arange(len(rows), device=self.device))
        regions = self.indices[positions]
        return SparseRows(len(rows), self.shape[1], offsets, cells, regions, regions * len(rows) + cells,
                          self.values[positions], self.inputs[positions])

    def _entries(self, rows, numbers):
        """The entries of `rows`, row after row: where each row's entries begin among them, each entry's row
        `numbers` (one per row) and each entry's position in the CSR arrays (the row's start in them plus the
        entry's rank in its row)."""
        starts = self.indptr[rows]
        lengths = self.indptr[rows + 1] - starts
        offsets = torch.cumsum(lengths, 0) - lengths
        positions = torch.repeat_interleave(starts - offsets, lengths)
        positions += torch.arange(len(positions), device=self.device)
        return offsets, torch.repeat_interleave(numbers, lengths), positions
