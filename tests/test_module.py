"""The PoissonVI loss against a direct computation, and the Poisson rate."""

import numpy as np
import scipy.sparse as sp
import torch
from scipy.stats import poisson

from atacflow.module import PoissonReconstruction, PoissonVAE, poisson_rate
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
    reconstruction, kl = module.loss(data.dense_rows(rows), data.library_size, data.library_constant)
    torch.manual_seed(1)
    outputs = module(data.dense_rows(rows))
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
    logits = module(data.dense_rows(torch.arange(6)))["logits"]
    rate = poisson_rate(logits, data.library_size)
    np.testing.assert_allclose(rate.sum(-1).detach().numpy(), np.asarray(counts.sum(axis=1)).ravel(), rtol=1e-5)


def test_minibatch_densifies_exactly():
    counts = _small_example()
    data = DeviceCSR(counts, torch.device("cpu"))
    rows = torch.tensor([4, 1, 5])
    np.testing.assert_array_equal(data.dense_rows(rows).numpy(), counts[[4, 1, 5]].toarray())


def test_reconstruction_gradient_is_library_times_softmax_minus_counts():
    """The hand-written backward equals autograd through the plain formula, and l softmax - x."""
    counts = torch.as_tensor(_small_example().toarray(), dtype=torch.float64)
    library = counts.sum(-1)
    logits = torch.randn(6, 40, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda lg: PoissonReconstruction.apply(lg, counts, library), (logits,))
    weights = torch.rand(6, dtype=torch.float64)
    (PoissonReconstruction.apply(logits, counts, library) * weights).sum().backward()
    expected = (library.unsqueeze(-1) * torch.softmax(logits, -1) - counts) * weights.unsqueeze(-1)
    np.testing.assert_allclose(logits.grad.numpy(), expected.detach().numpy(), rtol=1e-10)


def test_batch_covariate_enters_every_decoder_layer():
    module = PoissonVAE(n_regions=40, n_hidden=8, n_latent=3, n_batches=2)
    first, second = module.decoder.hidden.layers
    assert first[0].in_features == 3 + 2 and second[0].in_features == 8 + 2
