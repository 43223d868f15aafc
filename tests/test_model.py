"""PoissonVI training, early stopping with best weights restored, determinism, save/load, inference."""

import numpy as np
import pytest
import torch
from scipy.stats import poisson

from atacflow.da import DASettings, model_accessibility_blocks
from atacflow.errors import InputError
from atacflow.filtering import filter_cells_and_regions
from atacflow.fragments import to_fragments
from atacflow.matrix_io import read_peak_matrix
from atacflow.model import PoissonVI, default_sizes, latent_activity
from atacflow.training import TrainingSettings, kl_weight, kl_weights, split_cells, warmup_epochs
from conftest import GRANJA_1K

FAST = dict(lr=1e-3, max_epochs=40, early_stopping_patience=40, n_epochs_kl_warmup=10)


@pytest.fixture(scope="module")
def cells():
    adata, _ = filter_cells_and_regions(to_fragments(read_peak_matrix(GRANJA_1K)), 0.05, 20, 10)
    return adata


def _trained(adata, seed=0, dropout=0.1, encoder_input="log1p", **settings):
    model = PoissonVI(adata, device="cpu", seed=seed, dropout=dropout, encoder_input=encoder_input)
    history = model.train(adata, TrainingSettings(seed=seed, **{**FAST, **settings}))
    return model, history


def test_default_sizes_follow_the_paper():
    assert default_sizes(2734) == (52, 7)
    assert default_sizes(2734, n_hidden=128) == (128, 11)


def test_kl_weight_rises_linearly_to_one():
    assert [kl_weight(e, 4) for e in range(6)] == [0.0, 0.25, 0.5, 0.75, 1.0, 1.0]
    assert kl_weight(0, 0) == 1.0


def test_kl_warmup_in_steps_counts_every_minibatch_since_the_start():
    steps = TrainingSettings(n_steps_kl_warmup=10)
    assert kl_weights(0, 4, steps) == [0.0, 0.1, 0.2, 0.3]
    assert kl_weights(2, 4, steps) == [0.8, 0.9, 1.0, 1.0]
    assert kl_weights(3, 4, TrainingSettings(n_epochs_kl_warmup=6, n_steps_kl_warmup=None)) == [0.5] * 4


def test_kl_warmup_ends_after_its_epochs_or_its_steps_whichever_comes_first():
    both = TrainingSettings(n_epochs_kl_warmup=4, n_steps_kl_warmup=10)
    assert kl_weights(1, 2, both) == [0.25, 0.3]  # epochs lead: max(1/4, 2/10), max(1/4, 3/10)
    assert kl_weights(1, 8, both) == [0.8, 0.9] + [1.0] * 6  # steps lead: steps 8 and 9 of 10, then beta = 1
    assert [warmup_epochs(spe, both) for spe in (1, 2, 3, 8, 10)] == [4, 4, 4, 2, 1]
    assert warmup_epochs(1000, TrainingSettings(n_epochs_kl_warmup=4, n_steps_kl_warmup=None)) == 4
    assert warmup_epochs(1000, TrainingSettings(n_epochs_kl_warmup=0)) == 0


def test_max_kl_weight_scales_the_warm_up_and_caps_beta():
    half = TrainingSettings(n_epochs_kl_warmup=4, n_steps_kl_warmup=None, max_kl_weight=0.5)
    assert [kl_weights(e, 1, half)[0] for e in range(6)] == [0.0, 0.125, 0.25, 0.375, 0.5, 0.5]
    assert kl_weights(2, 4, TrainingSettings(n_steps_kl_warmup=10, max_kl_weight=0.5)) == [0.4, 0.45, 0.5, 0.5]
    for value in (0.0, 1.5):
        with pytest.raises(InputError, match=rf"train.max_kl_weight: found {value}; expected a number in \(0, 1\]"):
            TrainingSettings(max_kl_weight=value)


def test_split_is_seeded_ninety_ten():
    train, validation = split_cells(1000, 0.9, seed=3)
    assert len(train) == 900 and len(validation) == 100
    assert not set(train) & set(validation)
    assert np.array_equal(split_cells(1000, 0.9, seed=3)[1], validation)


def test_active_dimensions_are_those_whose_posterior_means_vary_across_cells_above_a_hundredth():
    rng = np.random.default_rng(0)
    means = np.column_stack([rng.normal(0, 1.0, 5000), rng.normal(3, 0.2, 5000), rng.normal(0, 0.05, 5000)])
    activity = latent_activity(means)
    np.testing.assert_allclose(activity["latent_dimension_variances"], means.var(axis=0))
    assert activity["n_active_latent_dimensions"] == 2 and not activity["latent_collapsed"]
    assert latent_activity(means[:, [0, 2]]) | {"latent_dimension_variances": None} == {
        "latent_dimension_variances": None, "n_active_latent_dimensions": 1, "active_variance_threshold": 0.01,
        "latent_collapsed": True}


def _pooled_profile_loss(adata, train_cells, validation_cells):
    """Mean -log p(x) of the validation cells when every cell's rate is l x the training cells' pooled profile
    (the best model that sees no cell-to-cell variation)."""
    counts = adata.X.tocsr().astype(np.float64)
    profile = np.asarray(counts[train_cells].sum(axis=0)).ravel()
    validation = counts[validation_cells].toarray()
    rate = validation.sum(axis=1, keepdims=True) * profile / profile.sum()
    return -poisson.logpmf(validation, rate).sum(axis=1).mean()


def test_training_beats_the_pooled_profile_on_validation_cells(cells):
    model, history = _trained(cells, max_epochs=150, early_stopping_patience=150)
    np.testing.assert_array_equal(model.training_latent, model.get_latent(cells))
    assert model.training_summary | latent_activity(model.training_latent) == model.training_summary
    losses = history["validation_reconstruction_loss"]
    # the trained model explains the cells' differences: 2.8% (9 nats a cell) below the pooled profile's loss
    assert losses.min() < 0.985 * _pooled_profile_loss(cells, *split_cells(cells.n_obs, 0.9, seed=0))
    assert losses.min() < losses.iloc[0]
    assert list(history.columns) == ["epoch", "train_loss", "validation_reconstruction_loss", "validation_kl", "beta", "lr",
                                     "seconds"]


def test_early_stopping_restores_the_best_epoch(cells):
    """Few training cells, no dropout and a high learning rate overfit: validation loss worsens after a best epoch."""
    overfit = dict(lr=1e-2, max_epochs=100, early_stopping_patience=15, train_fraction=0.05, n_epochs_kl_warmup=5,
                   dropout=0.0)
    model, history = _trained(cells, **overfit)
    best_epoch = model.training_summary["best_epoch"]
    losses = history["validation_reconstruction_loss"][history["beta"] == 1.0]
    assert best_epoch == losses.idxmin() and best_epoch < len(history) - 1
    assert losses.iloc[-1] > losses.min()
    assert len(history) == best_epoch + 1 + 15
    # the same seeded run stopped right at the best epoch has exactly the restored weights
    stopped_at_best, _ = _trained(cells, **{**overfit, "max_epochs": best_epoch + 1})
    for name, tensor in model.module.state_dict().items():
        assert torch.equal(tensor, stopped_at_best.module.state_dict()[name]), name


def test_elbo_monitor_keeps_the_epoch_of_the_lowest_validation_reconstruction_plus_kl(cells):
    overfit = dict(lr=1e-2, max_epochs=60, early_stopping_patience=10, train_fraction=0.05, n_epochs_kl_warmup=5,
                   dropout=0.0, early_stopping_monitor="elbo")
    model, history = _trained(cells, **overfit)
    after = history[history["beta"] == 1.0]
    elbo = after["validation_reconstruction_loss"] + after["validation_kl"]
    assert model.training_summary["best_epoch"] == elbo.idxmin()
    assert len(history) == min(60, elbo.idxmin() + 1 + 10)
    assert model.training_summary["settings"]["early_stopping_monitor"] == "elbo"


def test_unknown_monitor_or_encoder_input_is_an_error_naming_the_config_key(cells):
    with pytest.raises(InputError, match=r"early_stopping_monitor: found 'loss'; expected one of reconstruction, elbo"):
        _trained(cells, max_epochs=1, early_stopping_monitor="loss")
    with pytest.raises(InputError, match=r"encoder_input: found 'tfidf'; expected one of log1p, normalized_log1p"):
        PoissonVI(cells, device="cpu", encoder_input="tfidf")


def test_warm_up_epochs_are_never_the_best(cells):
    """During the KL warm-up the reconstruction term weighs more, so its validation loss is not comparable."""
    model, history = _trained(cells, max_epochs=30, early_stopping_patience=30, n_epochs_kl_warmup=20)
    assert history["beta"].iloc[:20].max() < 1.0 and model.training_summary["best_epoch"] >= 20
    capped, history = _trained(cells, max_epochs=30, early_stopping_patience=30, n_epochs_kl_warmup=20,
                               max_kl_weight=0.25)
    assert history["beta"].iloc[:20].max() < 0.25 and set(history["beta"].iloc[20:]) == {0.25}
    assert capped.training_summary["best_epoch"] >= 20
    after = history["validation_reconstruction_loss"].iloc[20:]
    assert model.training_summary["best_epoch"] == after.idxmin()
    short, short_history = _trained(cells, max_epochs=8, n_epochs_kl_warmup=20)
    assert short.training_summary["best_epoch"] == short_history["validation_reconstruction_loss"].idxmin()


def test_plateau_halves_the_learning_rate_after_patience_epochs_without_improvement(cells):
    overfit = dict(lr=1e-2, max_epochs=40, early_stopping_patience=40, train_fraction=0.05, n_epochs_kl_warmup=0,
                   dropout=0.0, lr_plateau_patience=3, lr_plateau_factor=0.5)
    _, history = _trained(cells, **overfit)
    expected, lr, best, bad = [], 1e-2, float("inf"), 0
    for loss in history["validation_reconstruction_loss"]:
        expected.append(lr)
        best, bad = (loss, 0) if loss < best else (best, bad + 1)
        if bad > 3:
            lr, bad = lr * 0.5, 0
    np.testing.assert_allclose(history["lr"], expected)
    assert min(expected) < 1e-2


def test_diverged_training_is_an_error_naming_the_learning_rate(cells):
    with pytest.raises(InputError, match=r"not finite .* lower train.lr"):
        _trained(cells, lr=1e6, max_epochs=4, n_epochs_kl_warmup=1)


def test_same_seed_gives_identical_latents_on_cpu(cells):
    first, _ = _trained(cells, max_epochs=5)
    second, _ = _trained(cells, max_epochs=5)
    assert np.array_equal(first.get_latent(cells), second.get_latent(cells))
    third, _ = _trained(cells, seed=1, max_epochs=5)
    assert not np.array_equal(first.get_latent(cells), third.get_latent(cells))


def test_training_flushes_subnormal_floats_to_zero_without_changing_the_weights(cells):
    if not torch.set_flush_denormal(False):
        pytest.skip("this CPU cannot flush subnormal floats")
    subnormal = torch.tensor([1e-39])  # made while kept: earlier tests' training left them flushed
    kept, _ = _trained(cells, max_epochs=3, flush_denormals=False)
    assert (subnormal * 1.0).item() > 0.0
    flushed, _ = _trained(cells, max_epochs=3)
    assert (subnormal * 1.0).item() == 0.0
    torch.set_flush_denormal(False)
    for name, value in kept.module.state_dict().items():
        assert torch.equal(value, flushed.module.state_dict()[name]), name


def test_latent_has_the_configured_width(cells):
    model = PoissonVI(cells, n_latent=6, device="cpu")
    assert model.get_latent(cells).shape == (cells.n_obs, 6)


@pytest.mark.parametrize("encoder_input", ["log1p", "normalized_log1p"])
def test_save_load_round_trip_gives_the_same_latent(cells, tmp_path, encoder_input):
    model, _ = _trained(cells, max_epochs=5, encoder_input=encoder_input)
    model.save(tmp_path / "model")
    loaded = PoissonVI.load(tmp_path / "model", cells, device="cpu")
    assert np.array_equal(model.get_latent(cells), loaded.get_latent(cells))
    assert loaded.fingerprint == model.fingerprint and loaded.input_scale == model.input_scale
    if encoder_input == "normalized_log1p":
        library_sizes = np.asarray(cells.X.sum(axis=1)).ravel()
        assert model.input_scale == float(np.median(library_sizes))
    assert loaded.training_summary["best_epoch"] == model.training_summary["best_epoch"]


def test_loading_against_other_regions_names_the_difference(cells, tmp_path):
    model, _ = _trained(cells, max_epochs=1)
    model.save(tmp_path / "model")
    fewer = cells[:, 1:].copy()
    with pytest.raises(InputError, match=r"1 model regions missing from the data \(e.g. \['chr"):
        PoissonVI.load(tmp_path / "model", fewer, device="cpu")
    reordered = cells[:, ::-1].copy()
    with pytest.raises(InputError, match="the same regions in another order"):
        PoissonVI.load(tmp_path / "model", reordered, device="cpu")


def test_accessibility_is_a_distribution_over_regions(cells):
    model, _ = _trained(cells, max_epochs=2)
    hidden, normalizers = model.decoder_states(cells, n_samples=3)
    blocks = [model.accessibility(hidden, normalizers, slice(start, start + 100)) for start in range(0, cells.n_vars, 100)]
    rho = torch.cat(blocks, dim=1)
    assert rho.shape == (cells.n_obs, cells.n_vars)
    np.testing.assert_allclose(rho.sum(dim=1).numpy(), 1.0, rtol=1e-4)


def test_accessibility_blocks_are_formed_in_cell_chunks_within_the_memory_bound(cells):
    """model_accessibility_blocks gives, block by block, what one call on all cells and regions gives; each block
    holds at most max_block_values cells x regions."""
    model, _ = _trained(cells, max_epochs=2)
    settings = DASettings(n_latent_samples=3, max_block_values=cells.n_obs * 40)
    torch.manual_seed(settings.seed)
    hidden, normalizers = model.decoder_states(cells, settings.n_latent_samples, settings.batch_correction)
    whole = model.accessibility(hidden, normalizers, slice(None))
    blocks = list(model_accessibility_blocks(model, cells, settings))
    assert [block.shape for _, block in blocks] == [(cells.n_obs, r.stop - r.start) for r, _ in blocks]
    assert max(block.numel() for _, block in blocks) == settings.max_block_values and len(blocks) > 2
    torch.testing.assert_close(torch.cat([block for _, block in blocks], dim=1), whole)


def test_decoder_states_do_not_depend_on_the_chunks_they_are_formed_in(cells):
    model, _ = _trained(cells, max_epochs=2)
    states = []
    for max_values in (2**24, 3 * cells.n_vars * 7):  # all cells in one chunk; 7 cells per chunk
        torch.manual_seed(0)
        states.append(model.decoder_states(cells, n_samples=3, max_values=max_values))
    for one_chunk, many_chunks in zip(*states):
        torch.testing.assert_close(many_chunks, one_chunk)


def test_batch_covariate_from_annotation(cells):
    annotated = cells.copy()
    annotated.obs["donor"] = np.where(np.arange(cells.n_obs) % 2, "D5", "D6")
    model = PoissonVI(annotated, batch_key="donor", device="cpu")
    assert model.batch_categories == ["D5", "D6"]
    model.train(annotated, TrainingSettings(**{**FAST, "max_epochs": 1}))
    with pytest.raises(InputError, match="column 'donor_missing' not in the cell annotation"):
        PoissonVI(annotated, batch_key="donor_missing")


def test_cuda_request_without_gpu_is_an_error(cells):
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.raises(InputError, match="found 'cuda' but no CUDA GPU is visible"):
        PoissonVI(cells, device="cuda")
