"""PoissonVI model class: data setup, training, save/load and inference around the PoissonVAE module."""

import hashlib
import json
import logging
import math
from pathlib import Path

import numpy as np
import torch

from .checkpoints import TrainingCheckpoint, run_fingerprint
from .decoded_profiles import aitchison_coordinates
from .errors import InputError
from .module import PoissonVAE
from .sparse_batches import DeviceCSR
from .training import TrainingSettings, split_cells, train

log = logging.getLogger(__name__)
WEIGHTS_FILE, HYPERPARAMETERS_FILE = "weights.pt", "model.json"
ACTIVE_VARIANCE = 0.01
# hidden units when the config says nothing: better clusters than int(sqrt(regions)) on every labelled set of the
# recipe study, in fewer epochs on the largest (benchmarks/RECIPE.md, run 9)
DEFAULT_N_HIDDEN = 128
ENCODER_INPUTS = ("log1p", "normalized_log1p")
TRAINING_CODE = ("model.py", "module.py", "training.py", "optimizer.py", "sparse_batches.py", "checkpoints.py")


def resolve_device(device="auto"):
    """'auto' picks CUDA when present, else CPU; 'cuda' without a GPU is an error."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise InputError("config device: found 'cuda' but no CUDA GPU is visible; expected 'auto' or 'cpu' here")
    if device not in ("cpu", "cuda"):
        raise InputError(f"config device: found {device!r}; expected one of auto, cpu, cuda")
    return torch.device(device)


def data_fingerprint(adata, chunk=1 << 20):
    """SHA-256 of the region names and the sparse counts (indptr and indices as int64, data as float64, so
    that it does not depend on the stored dtypes), fed in chunks: no full-size copy of the matrix."""
    digest = hashlib.sha256("\n".join(adata.var_names).encode())
    counts = adata.X.tocsr()
    for array, dtype in ((counts.indptr, np.int64), (counts.indices, np.int64), (counts.data, np.float64)):
        for start in range(0, len(array), chunk):
            digest.update(np.ascontiguousarray(array[start:start + chunk], dtype=dtype).tobytes())
    return digest.hexdigest()


def latent_activity(means, threshold=ACTIVE_VARIANCE):
    """Active latent dimensions (Burda, Grosse & Salakhutdinov 2016): dimension k is active when the variance
    across cells of its posterior mean, Var_n(E_q[z_nk | x_n]), exceeds `threshold` (0.01). An inactive
    dimension's posterior mean is the same for every cell: the KL term pulled it onto the prior and it tells the
    cells apart no more than noise. One active dimension or none is a collapsed latent space."""
    variances = np.asarray(means, dtype=np.float64).var(axis=0)
    n_active = int((variances > threshold).sum())
    return {"latent_dimension_variances": [float(v) for v in variances], "n_active_latent_dimensions": n_active,
            "active_variance_threshold": threshold, "latent_collapsed": n_active <= 1}


def encoder_input_scale(adata, encoder_input):
    """The encoder reads log1p(x) ('log1p': None returned) or log1p(s x / l) ('normalized_log1p'), every cell
    scaled to s = the median library size l of the cells with fragments (as scanpy's normalize_total)."""
    if encoder_input not in ENCODER_INPUTS:
        raise InputError(f"config model.encoder_input: found {encoder_input!r}; "
                         f"expected one of {', '.join(ENCODER_INPUTS)}")
    if encoder_input == "log1p":
        return None
    library_sizes = np.asarray(adata.X.sum(axis=1), dtype=np.float64).ravel()
    return float(np.median(library_sizes[library_sizes > 0]))


def default_sizes(n_regions, n_hidden=None, n_latent=None):
    """n_hidden = int(sqrt(n_regions)) (scvi-tools' PoissonVI rule), n_latent = int(sqrt(n_hidden)) unless given."""
    n_hidden = n_hidden or int(math.sqrt(n_regions))
    return n_hidden, n_latent or int(math.sqrt(n_hidden))


class PoissonVI:
    """PoissonVI for fragment counts in `adata.X` (cells x regions, sparse)."""

    def __init__(self, adata, n_hidden=DEFAULT_N_HIDDEN, n_latent=None, n_layers_encoder=2, n_layers_decoder=2,
                 dropout=0.1, batch_key=None, encoder_input="log1p", device="auto", seed=0):
        n_hidden, n_latent = default_sizes(adata.n_vars, n_hidden, n_latent)
        self.input_scale = encoder_input_scale(adata, encoder_input)
        self.regions = list(adata.var_names)
        self.batch_key = batch_key
        self.batch_categories = _batch_categories(adata, batch_key)
        self.hyperparameters = {
            "n_regions": adata.n_vars, "n_hidden": n_hidden, "n_latent": n_latent,
            "n_layers_encoder": n_layers_encoder, "n_layers_decoder": n_layers_decoder,
            "dropout": dropout, "n_batches": len(self.batch_categories),
        }
        self.device = resolve_device(device)
        self.fingerprint = data_fingerprint(adata)
        self.training_summary, self.training_latent = {}, None
        self.initial_weights_seed = seed
        torch.manual_seed(seed)
        self.module = PoissonVAE(**self.hyperparameters).to(self.device)

    def _data(self, adata):
        return DeviceCSR(adata.X, self.device, self.input_scale)

    def _batch_onehot(self, adata):
        if not self.batch_categories:
            return None
        codes = _batch_codes(adata, self.batch_key, self.batch_categories)
        return torch.nn.functional.one_hot(torch.as_tensor(codes, device=self.device), len(self.batch_categories)).float()

    def train(self, adata, settings=TrainingSettings(), checkpoint_path=None):
        """Train on `adata`; returns the per-epoch history table. Best validation weights are restored, and the
        posterior means of `adata`'s cells under them (get_latent(adata)) kept in `training_latent`.
        With `checkpoint_path`, a checkpoint of this very run (same data, model and settings) is resumed and one is
        written every `settings.checkpoint_every_epochs` epochs (checkpoints.py)."""
        self.check_regions(adata)
        torch.manual_seed(settings.seed)
        train_cells, validation_cells = split_cells(adata.n_obs, settings.train_fraction, settings.seed)
        checkpoint = None if checkpoint_path is None else TrainingCheckpoint(
            checkpoint_path, self.run_fingerprint(adata, settings), settings.checkpoint_every_epochs
        )
        data = self._data(adata)
        history, best_epoch = train(
            self.module, data, settings, self._batch_onehot(adata), train_cells, validation_cells,
            checkpoint,
        )
        best = history.loc[best_epoch]
        self.training_latent = self._latent_means(data)
        activity = latent_activity(self.training_latent)
        self.training_summary = {
            "n_epochs": len(history), "best_epoch": int(best_epoch),
            "best_validation_reconstruction_loss": float(best["validation_reconstruction_loss"]),
            "n_train_cells": len(train_cells), "n_validation_cells": len(validation_cells),
            "device": str(self.device), "settings": settings.__dict__, **activity,
        }
        _log_activity(activity)
        return history

    def run_fingerprint(self, adata, settings):
        """What a training run's numbers depend on: data, regions, each cell's batch, hyper-parameters, the encoder
        input's scale, the seed of the initial weights, the settings (all but how often checkpoints are written),
        the device type, the torch version and the source of the training code."""
        training = {key: value for key, value in settings.__dict__.items() if key != "checkpoint_every_epochs"}
        batches = _batch_codes(adata, self.batch_key, self.batch_categories) if self.batch_categories else []
        code = [(Path(__file__).parent / name).read_text() for name in TRAINING_CODE]
        return run_fingerprint(self.fingerprint, self.hyperparameters, self.input_scale, self.batch_key,
                               self.batch_categories,
                               hashlib.sha256(np.asarray(batches, dtype=np.int64).tobytes()).hexdigest(), training,
                               self.device.type, self.initial_weights_seed, torch.__version__,
                               hashlib.sha256("".join(code).encode()).hexdigest())

    def check_regions(self, adata):
        """Loading against other regions is an error naming the difference."""
        if list(adata.var_names) == self.regions:
            return
        model_regions, data_regions = set(self.regions), set(adata.var_names)
        only_model, only_data = sorted(model_regions - data_regions), sorted(data_regions - model_regions)
        detail = (
            f"{len(only_model)} model regions missing from the data (e.g. {only_model[:3]}), "
            f"{len(only_data)} data regions unknown to the model (e.g. {only_data[:3]})"
            if only_model or only_data else "the same regions in another order"
        )
        raise InputError(
            f"regions differ between the model ({len(self.regions)} regions) and the data ({adata.n_vars}): {detail}; "
            "expected the regions the model was trained on, in the same order"
        )

    @torch.no_grad()
    def get_latent(self, adata, chunk_size=4096):
        """Posterior means E_q[z | x] for every cell, computed in chunks."""
        self.check_regions(adata)
        return self._latent_means(self._data(adata), chunk_size)

    @torch.no_grad()
    def _latent_means(self, data, chunk_size=4096):
        self.module.eval()
        rows = torch.arange(data.shape[0], device=self.device)
        means = [self.module.encoder(data.rows(chunk))[0] for chunk in rows.split(chunk_size)]
        return torch.cat(means).cpu().numpy()

    @torch.no_grad()
    def decoded_profiles(self, means, n_components=None, chunk_size=4096):
        """Coordinates of the accessibility profiles decoded at the posterior means `means` (cells, n_latent) whose
        Euclidean distances are Aitchison distances (decoded_profiles.aitchison_coordinates): `n_components` of
        them, n_latent by default (at most min(n_hidden, regions)). With a batch covariate each cell is decoded
        under every batch and the hidden states averaged: the clr is affine in h, so this is the mean over batches
        of the cell's clr profiles, the clr of their geometric mean (always, whatever da.batch_correction).
        Hidden states come back to the host a chunk at a time."""
        self.module.eval()
        decoder, n_batches = self.module.decoder, self.hyperparameters["n_batches"]
        states = []
        for chunk in torch.as_tensor(means, device=self.device).split(chunk_size):
            if n_batches:
                every_batch = torch.eye(n_batches, device=self.device)[:, None, :].expand(-1, len(chunk), -1)
                states.append(decoder.hidden_state(chunk.expand(n_batches, -1, -1), every_batch).mean(dim=0).cpu())
            else:
                states.append(decoder.hidden_state(chunk).cpu())
        coordinates, kept = aitchison_coordinates(torch.cat(states).numpy(), decoder.to_logits.weight.cpu().numpy(),
                                                  n_components or self.hyperparameters["n_latent"])
        log.info("decoded profiles: %d principal components hold %.1f%% of their Aitchison variance",
                 coordinates.shape[1], 100 * kept)
        return coordinates

    @torch.no_grad()
    def decoder_states(self, adata, n_samples=10, every_batch=False, max_values=2**24):
        """Decoder hidden states h (draws, cells, n_hidden) for z ~ q(z | x) and the log softmax
        normalizers log sum_r exp(logit_r) (draws, cells), so that any region block of
        rho = softmax(logits) can be formed later without all regions at once. The normalizers are computed a
        chunk of cells at a time, its logits (draws x cells x regions) at most `max_values` floats; the noise of
        z is drawn for all cells at once, so the result does not depend on the chunks.

        Each cell is decoded with its own batch one-hot (draws = n_samples), or with `every_batch` once per batch
        b = 1..B with one-hot e_b (draws = B x n_samples): averaging rho over the draws then weighs every batch
        equally, E_b E_q[rho(z, e_b)], the cell's accessibility as if it came from each batch."""
        self.check_regions(adata)
        self.module.eval()
        data, batch_onehot = self._data(adata), self._batch_onehot(adata)
        every_batch = every_batch and batch_onehot is not None
        draws = n_samples * (batch_onehot.shape[1] if every_batch else 1)
        chunk_size = max(1, max_values // (draws * adata.n_vars))
        noise = torch.randn((n_samples, adata.n_obs, self.hyperparameters["n_latent"]), device=self.device)
        hidden, normalizers = [], []
        for chunk in torch.arange(adata.n_obs, device=self.device).split(chunk_size):
            mean, variance = self.module.encoder(data.rows(chunk))
            z = mean + variance.sqrt() * noise[:, chunk]
            if every_batch:
                n_batches = batch_onehot.shape[1]
                batch = torch.eye(n_batches, device=self.device).repeat_interleave(n_samples, dim=0)
                batch = batch[:, None, :].expand(-1, len(chunk), -1)
                z = z.repeat(n_batches, 1, 1)
            else:
                batch = None if batch_onehot is None else batch_onehot[chunk].expand(n_samples, -1, -1)
            states = self.module.decoder.hidden_state(z, batch)
            hidden.append(states)
            normalizers.append(torch.logsumexp(self.module.decoder.logits_from_hidden(states), dim=-1))
        return torch.cat(hidden, dim=1), torch.cat(normalizers, dim=1)

    @torch.no_grad()
    def accessibility(self, hidden, normalizers, regions):
        """Posterior expected normalized accessibility E_q[rho_r(z)] per cell for a region block:
        (1/S) sum_s exp(logit_r(z_s) - log sum_r' exp(logit_r'(z_s)))."""
        logits = self.module.decoder.logits_from_hidden(hidden, regions)
        return logits.sub_(normalizers.unsqueeze(-1)).exp_().mean(dim=0)

    def save(self, folder):
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        torch.save(self.module.state_dict(), folder / WEIGHTS_FILE)
        description = {
            "hyperparameters": self.hyperparameters, "regions": self.regions, "batch_key": self.batch_key,
            "batch_categories": self.batch_categories, "data_fingerprint": self.fingerprint,
            "encoder_input_scale": self.input_scale, "training": self.training_summary,
        }
        (folder / HYPERPARAMETERS_FILE).write_text(json.dumps(description, indent=1))

    @classmethod
    def load(cls, folder, adata, device="auto"):
        """Load weights (weights_only=True) and hyper-parameters; the regions must match `adata`'s."""
        folder = Path(folder)
        description = json.loads((folder / HYPERPARAMETERS_FILE).read_text())
        model = cls.__new__(cls)
        model.regions = description["regions"]
        model.batch_key = description["batch_key"]
        model.batch_categories = description["batch_categories"]
        model.hyperparameters = description["hyperparameters"]
        model.fingerprint = description["data_fingerprint"]
        model.input_scale = description.get("encoder_input_scale")  # None (log1p) in models saved before the option
        model.training_summary = description["training"]
        model.device = resolve_device(device)
        model.check_regions(adata)
        model.module = PoissonVAE(**model.hyperparameters).to(model.device)
        state = torch.load(folder / WEIGHTS_FILE, map_location=model.device, weights_only=True)
        model.module.load_state_dict(state)
        model.module.eval()
        return model


def _log_activity(activity):
    variances = ", ".join(f"{v:.3g}" for v in activity["latent_dimension_variances"])
    log.info("%d of %d latent dimensions active (variance of the posterior means across cells > %g): %s",
             activity["n_active_latent_dimensions"], len(activity["latent_dimension_variances"]),
             activity["active_variance_threshold"], variances)
    if activity["latent_collapsed"]:
        log.warning("latent collapse: %d active latent dimension(s); the clusters will reflect little of the data. "
                    "Expected more than one: check the training curves (KL near 0) and the training settings",
                    activity["n_active_latent_dimensions"])


def _batch_categories(adata, batch_key):
    """The batch key's values, sorted; none when it is off or has a single value (no covariate needed)."""
    if not batch_key:
        return []
    if batch_key not in adata.obs:
        raise InputError(
            f"config model.batch_key: column {batch_key!r} not in the cell annotation "
            f"(found columns {list(adata.obs.columns)}); expected a column of the cells' annotation"
        )
    missing = int(adata.obs[batch_key].isna().sum())
    if missing:
        raise InputError(f"config model.batch_key: column {batch_key!r} has no value for {missing} cells; expected "
                         "a batch for every cell (or model.batch_key: null)")
    categories = sorted(map(str, adata.obs[batch_key].unique()))
    if len(categories) < 2:
        log.info("model.batch_key %r has one value (%s): no batch covariate", batch_key, categories[0])
        return []
    return categories


def _batch_codes(adata, batch_key, categories):
    values = adata.obs[batch_key].astype(str)
    unknown = sorted(set(values) - set(categories))
    if unknown:
        raise InputError(f"batch column {batch_key!r}: values {unknown[:5]} were not seen in training; expected {categories}")
    return values.map({category: code for code, category in enumerate(categories)}).to_numpy()
