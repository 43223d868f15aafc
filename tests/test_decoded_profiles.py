"""Aitchison coordinates of the decoded accessibility profiles: the distances the formula promises, against the
profiles formed densely over every region."""

import numpy as np
import pytest
import torch
from scipy.spatial.distance import pdist

from atacflow import decoded_profiles
from atacflow.decoded_profiles import aitchison_coordinates
from atacflow.filtering import filter_cells_and_regions
from atacflow.fragments import to_fragments
from atacflow.matrix_io import read_peak_matrix
from atacflow.model import PoissonVI
from atacflow.training import TrainingSettings
from conftest import GRANJA_1K


def _clr(hidden, weight, bias):
    """clr(rho) = log rho - mean_r log rho_r with rho = softmax(h W^T + b), every region at once."""
    log_rho = torch.log_softmax(torch.as_tensor(hidden @ weight.T + bias, dtype=torch.float64), dim=-1).numpy()
    return log_rho - log_rho.mean(axis=1, keepdims=True)


def _top_components(matrix, n_components):
    centred = matrix - matrix.mean(axis=0)
    u, s, _ = np.linalg.svd(centred, full_matrices=False)
    return u[:, :n_components] * s[:n_components]


@pytest.fixture()
def decoder_output():
    rng = np.random.default_rng(0)
    return rng.normal(size=(40, 6)), rng.normal(size=(300, 6)), rng.normal(size=300)  # hidden, W, b


def test_euclidean_distances_of_all_components_are_the_aitchison_distances(decoder_output):
    hidden, weight, bias = decoder_output
    coordinates, kept = aitchison_coordinates(hidden.astype(np.float32), weight, n_components=6)
    assert coordinates.shape == (40, 6) and coordinates.dtype == np.float32 and kept == pytest.approx(1.0)
    np.testing.assert_allclose(pdist(coordinates), pdist(_clr(hidden, weight, bias)), rtol=1e-5)


def test_fewer_components_are_the_clr_profiles_leading_principal_components(decoder_output):
    hidden, weight, bias = decoder_output
    coordinates, kept = aitchison_coordinates(hidden, weight, n_components=3)
    clr = _clr(hidden, weight, bias)
    expected = _top_components(clr, 3)
    assert kept == pytest.approx((expected ** 2).sum() / ((clr - clr.mean(axis=0)) ** 2).sum())
    np.testing.assert_allclose(np.abs(coordinates), np.abs(expected), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(coordinates.mean(axis=0), 0, atol=1e-5)
    loadings = np.linalg.lstsq(hidden - hidden.mean(axis=0), coordinates, rcond=None)[0]
    assert (loadings[np.abs(loadings).argmax(axis=0), np.arange(3)] > 0).all()  # each sign fixed


def test_the_coordinates_do_not_depend_on_the_chunks(decoder_output, monkeypatch):
    hidden, weight, _ = decoder_output
    whole, kept = aitchison_coordinates(hidden, weight, n_components=4)
    monkeypatch.setattr(decoded_profiles, "CHUNK", 7)
    chunked, kept_chunked = aitchison_coordinates(hidden, weight, n_components=4)
    np.testing.assert_allclose(chunked, whole, rtol=1e-6, atol=1e-6)
    assert kept_chunked == pytest.approx(kept)


@pytest.mark.parametrize("n_batches", [0, 2])
def test_the_model_decodes_every_batch_and_averages_the_clr_profiles(n_batches):
    adata, _ = filter_cells_and_regions(to_fragments(read_peak_matrix(GRANJA_1K)), 0.05, 20, 10)
    adata.obs["donor"] = np.where(np.arange(adata.n_obs) % 2, "D5", "D6")
    model = PoissonVI(adata, batch_key="donor" if n_batches else None, device="cpu", n_hidden=32, seed=0)
    model.train(adata, TrainingSettings(max_epochs=2, n_epochs_kl_warmup=1))
    means = model.get_latent(adata)
    coordinates = model.decoded_profiles(means, chunk_size=100)
    n_latent = model.hyperparameters["n_latent"]
    assert coordinates.shape == (adata.n_obs, n_latent)
    decoder = model.module.decoder
    with torch.no_grad():
        z = torch.as_tensor(means)
        clr = np.mean([_clr(decoder.hidden_state(z, torch.eye(n_batches)[[b]].expand(len(z), -1) if n_batches else None)
                            .double().numpy(), decoder.to_logits.weight.double().numpy(),
                            decoder.region_factors.double().numpy())
                       for b in range(max(n_batches, 1))], axis=0)
    expected = _top_components(clr, n_latent)
    np.testing.assert_allclose(pdist(coordinates), pdist(expected), rtol=2e-3, atol=2e-4)
