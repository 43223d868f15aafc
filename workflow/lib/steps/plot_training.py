"""Rule plot_training: training and validation losses, KL and the warm-up, with the restored epoch."""

import json
from pathlib import Path

import pandas as pd

from .. import plots
from .files import atomic_path


def plot_training(history_path, description_path, output):
    history = pd.read_csv(history_path, sep="\t")
    best_epoch = json.loads(Path(description_path).read_text())["training"]["best_epoch"]
    with atomic_path(output) as temporary:
        plots.plot_training_history(history, best_epoch, temporary)
