"""The comparisons DA runs on the cells' annotation."""

import re

import numpy as np

from .da import MODES, Comparison
from .errors import InputError

REST = "rest"


def cluster_comparisons(obs, groupby="leiden", mode="one-sided"):
    """Every group of `groupby` against the rest."""
    return [make_comparison(obs, groupby, group, REST, mode) for group in _categories(obs[groupby])]


def configured_comparisons(obs, entries, default_mode="two-sided"):
    """Comparisons listed in config: [{groupby, group1, group2 (a value or 'rest'), mode?}]."""
    return [
        make_comparison(obs, entry["groupby"], str(entry["group1"]), str(entry.get("group2", REST)),
                        entry.get("mode", default_mode))
        for entry in entries
    ]


def make_comparison(obs, groupby, group1, group2, mode):
    if groupby not in obs.columns:
        raise InputError(
            f"config da.comparisons: groupby column {groupby!r} not found; expected one of {list(obs.columns)}"
        )
    if mode not in MODES:
        raise InputError(f"config da.comparisons ({groupby}): mode {mode!r}; expected one of {', '.join(MODES)}")
    values = obs[groupby].astype("string")
    present = values.notna().to_numpy()
    cells1 = np.flatnonzero((values == group1).fillna(False).to_numpy())
    cells2 = np.flatnonzero(present & (values != group1).fillna(False).to_numpy()) if group2 == REST \
        else np.flatnonzero((values == group2).fillna(False).to_numpy())
    for group, cells in ((group1, cells1), (group2, cells2)):
        if len(cells) < 2:
            raise InputError(
                f"config da.comparisons: group {group!r} of column {groupby!r} has {len(cells)} cells; expected at "
                f"least 2 (values present: {_categories(obs[groupby])[:10]})"
            )
    name = _safe_name(f"{groupby}_{group1}_vs_{group2}")
    return Comparison(name, groupby, group1, group2, mode, cells1, cells2)


def _categories(column):
    return sorted(map(str, column.dropna().unique()), key=lambda v: (len(v), v))


def _safe_name(text):
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text)
