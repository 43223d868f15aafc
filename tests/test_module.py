"""The PoissonVI loss against a direct computation, and the Poisson rate."""

import dataclasses

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from scipy.stats import poisson

from atacflow import module as module_code
from atacflow.module import PoissonReconstruction, PoissonVAE, SparseProduct, poisson_rate
from atacflow.sparse_batches import DeviceCSR


def _small_example():
    rng = np.random.default_rng(0)
    counts = sp.random(6, 40, density=0.3, random_state=1, data_rvs=lambda n: rng.integers(1, 5, n)).tocsr()
    counts[0, 0] = 3  # every cell has fragments
    return sp.csr_matrix(counts)


def test_loss_equals_scipy_poisson_log_pmf_and_gaussian_kl():
    counts = _small_example()
    torch.manual_seed(0)
    module = PoissonVAE(n_regions=40, n_hidden=8, n_latent=3).eval()
    data = DeviceCSR(counts, torch.device("cpu"))
    rows = torch.arange(6)
    torch.manual_seed(1)
    reconstruction, kl = module.loss(data.rows(rows), data.library_size, data.library_constant)
    torch.manual_seed(1)
    outputs = module(data.rows(rows))
    rate = poisson_rate(outputs["logits"], data.library_size).detach().double().numpy()
    expected = -poisson.logpmf(counts.toarray(), rate).sum(axis=1)
    np.testing.assert_allclose(reconstruction.detach().numpy(), expected, rtol=1e-5)
    mean, variance = outputs["mean"].detach().double().numpy(), outputs["variance"].detach().double().numpy()
    expected_kl = 0.5 * (mean**2 + variance - 1 - np.log(variance)).sum(axis=1)
    np.testing.assert_allclose(kl.detach().numpy(), expected_kl, rtol=1e-5)
    torch_kl = torch.distributions.kl_divergence(
        torch.distributions.Normal(outputs["mean"], outputs["variance"].sqrt()), torch.distributions.Normal(0.0, 1.0)
    ).sum(-1)
    np.testing.assert_allclose(kl.detach().numpy(), torch_kl.detach().numpy(), rtol=1e-5)


def test_rate_of_each_cell_sums_to_its_library_size():
    counts = _small_example()
    module = PoissonVAE(n_regions=40, n_hidden=8, n_latent=3)
    data = DeviceCSR(counts, torch.device("cpu"))
    logits = module(data.rows(torch.arange(6)))["logits"]
    rate = poisson_rate(logits, data.library_size)
    np.testing.assert_allclose(rate.sum(-1).detach().numpy(), np.asarray(counts.sum(axis=1)).ravel(), rtol=1e-5)


def test_minibatch_entries_are_the_rows_nonzeros_in_the_order_given():
    counts = _small_example()
    data = DeviceCSR(counts, torch.device("cpu"))
    batch = data.rows(torch.tensor([4, 1, 5]))
    np.testing.assert_array_equal(batch.to_dense().numpy(), counts[[4, 1, 5]].toarray())
    np.testing.assert_allclose(batch.inputs.numpy(), np.log1p(batch.counts.numpy()), rtol=1e-6)
    np.testing.assert_array_equal(batch.offsets.numpy(), np.r_[0, np.cumsum(counts[[4, 1, 5]].getnnz(axis=1))[:-1]])


@pytest.mark.parametrize("batch_size, chunk_batches", [(2, 2), (4, 1), (5, 32)])
def test_minibatches_sliced_from_chunks_equal_the_rows_of_each_minibatch(batch_size, chunk_batches):
    counts = sp.vstack([_small_example(), sp.csr_matrix((1, 40)), _small_example()[::-1]]).tocsr()  # one empty cell
    data = DeviceCSR(counts, torch.device("cpu"))
    order = torch.randperm(counts.shape[0], generator=torch.Generator().manual_seed(0))
    minibatches = list(data.minibatches(order, batch_size, chunk_batches))
    assert [batch.n_cells for _, batch, _, _ in minibatches] == [len(rows) for rows in order.split(batch_size)]
    for (given_rows, batch, library_size, constant), rows in zip(minibatches, order.split(batch_size), strict=True):
        np.testing.assert_array_equal(given_rows, rows)
        expected = data.rows(rows)
        for field in dataclasses.fields(expected):
            np.testing.assert_array_equal(getattr(batch, field.name), getattr(expected, field.name), err_msg=field.name)
        np.testing.assert_array_equal(library_size, data.library_size[rows])
        np.testing.assert_array_equal(constant, data.library_constant[rows])


def test_normalized_input_is_log1p_of_counts_scaled_to_a_common_library_size():
    counts = _small_example()
    counts = sp.vstack([counts, 3 * counts[2]]).tocsr()  # the last cell: cell 2 sequenced 3x deeper
    data = DeviceCSR(counts, torch.device("cpu"), input_scale=50.0)
    batch = data.rows(torch.arange(counts.shape[0]))
    library_sizes = np.asarray(counts.sum(axis=1)).ravel()
    expected = np.log1p(50.0 * counts.toarray() / library_sizes[:, None])
    np.testing.assert_allclose(batch.to_dense(batch.inputs).numpy(), expected, rtol=1e-6)
    np.testing.assert_allclose(data.rows(torch.tensor([6])).inputs.numpy(), data.rows(torch.tensor([2])).inputs.numpy(),
                               rtol=1e-6)


def _sparse_batch_in_float64():
    data = DeviceCSR(_small_example(), torch.device("cpu"))
    batch = data.rows(torch.tensor([2, 0, 5, 3]))
    counts = batch.counts.double()
    batch = dataclasses.replace(batch, counts=counts, inputs=torch.log1p(counts))
    return batch, batch.to_dense()


def test_reconstruction_gradient_is_library_times_softmax_minus_counts():
    """The hand-written forward and backward (counts at their entries only, logits given (regions, B)) equal the
    plain formulas: l logsumexp(logits) - sum_r x_r logit_r, and l softmax - x; gradcheck agrees."""
    batch, counts = _sparse_batch_in_float64()
    library = counts.sum(-1)
    logits_by_region = torch.randn(40, 4, dtype=torch.float64, requires_grad=True)

    def loss(lg):
        return PoissonReconstruction.apply(lg, batch.cells, batch.entries, batch.counts, library)

    assert torch.autograd.gradcheck(loss, (logits_by_region,))
    logits = logits_by_region.T
    np.testing.assert_allclose(loss(logits_by_region).detach().numpy(),
                               (library * torch.logsumexp(logits, -1) - (counts * logits).sum(-1)).detach().numpy())
    weights = torch.rand(4, dtype=torch.float64)
    (loss(logits_by_region) * weights).sum().backward()
    expected = (library.unsqueeze(-1) * torch.softmax(logits, -1) - counts) * weights.unsqueeze(-1)
    np.testing.assert_allclose(logits_by_region.grad.T.numpy(), expected.detach().numpy(), rtol=1e-10)


def test_logits_by_region_are_the_decoders_logits_transposed():
    module = PoissonVAE(n_regions=40, n_hidden=8, n_latent=3, n_batches=2).eval()
    z, onehot = torch.randn(5, 3), torch.eye(2)[[0, 1, 1, 0, 1]]
    np.testing.assert_allclose(module.decoder.logits_by_region(z, onehot).detach().numpy(),
                               module.decoder(z, onehot).T.detach().numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("dense_gradient_density", [0.0, 1.0])
def test_sparse_first_layer_is_the_dense_product_with_its_weight_gradient(monkeypatch, dense_gradient_density):
    """log1p(X) W and its dW = log1p(X)^T dY from the entries alone (density above the switch: dense dW; below:
    grouped by region)."""
    monkeypatch.setattr(module_code, "DENSE_GRADIENT_DENSITY", dense_gradient_density)
    batch, counts = _sparse_batch_in_float64()
    dense = torch.log1p(counts)
    weight = torch.randn(40, 5, dtype=torch.float64, requires_grad=True)

    def product(w):
        return SparseProduct.apply(w, batch)

    assert torch.autograd.gradcheck(product, (weight,))
    np.testing.assert_allclose(product(weight).detach().numpy(), (dense @ weight).detach().numpy(), rtol=1e-12)
    upstream = torch.randn(4, 5, dtype=torch.float64)
    product(weight).backward(upstream)
    np.testing.assert_allclose(weight.grad.numpy(), (dense.T @ upstream).numpy(), rtol=1e-12)


def test_batch_covariate_enters_every_decoder_layer():
    module = PoissonVAE(n_regions=40, n_hidden=8, n_latent=3, n_batches=2)
    first, second = module.decoder.hidden.layers
    assert first[0].in_features == 3 + 2 and second[0].in_features == 8 + 2
