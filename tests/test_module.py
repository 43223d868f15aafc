"""The PoissonVI loss against a direct computation, and the Poisson rate."""

import numpy as np
import scipy.sparse as sp
import torch
from scipy.stats import poisson

from atacflow.module import PoissonVAE, poisson_rate
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


def test_minibatch_is_sparse_and_densifies_exactly():
    counts = _small_example()
    data = DeviceCSR(counts, torch.device("cpu"))
    rows = torch.tensor([4, 1, 5])
    batch = data.rows(rows)
    assert len(batch.fragments) == counts[[4, 1, 5]].nnz
    np.testing.assert_array_equal(batch.to_dense(40).numpy(), counts[[4, 1, 5]].toarray())


def test_batch_covariate_enters_every_decoder_layer():
    module = PoissonVAE(n_regions=40, n_hidden=8, n_latent=3, n_batches=2)
    first, second = module.decoder.hidden.layers
    assert first[0].in_features == 3 + 2 and second[0].in_features == 8 + 2
