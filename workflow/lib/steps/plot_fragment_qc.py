"""Rule plot_fragment_qc: a sample's fragment-length histogram and its cells' unique fragments and FRiP."""

import pandas as pd

from .. import plots
from .files import atomic_path


def plot_fragment_qc(lengths_path, qc_path, sample, thresholds, output):
    lengths = pd.read_csv(lengths_path, sep="\t")
    qc = pd.read_csv(qc_path, sep="\t", index_col=0)
    with atomic_path(output) as temporary:
        plots.plot_fragment_qc(lengths, qc, sample, thresholds, temporary)
