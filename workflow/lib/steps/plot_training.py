"""Rule plot_training: training and validation losses, KL and the warm-up, with the restored epoch and the number
of active latent dimensions."""

import json
from pathlib import Path

import pandas as pd

from .. import plots
from .files import atomic_path


def plot_training(history_path, description_path, output):
    history = pd.read_csv(history_path, sep="\t")
    training = json.loads(Path(description_path).read_text())["training"]
    activity = {key: training[key] for key in ("n_active_latent_dimensions", "latent_dimension_variances",
                                               "active_variance_threshold", "latent_collapsed")}
    with atomic_path(output) as temporary:
        plots.plot_training_history(history, training["best_epoch"], temporary, activity)
