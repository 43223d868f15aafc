"""Reads (Tn5 cut sites) per peak to fragments per peak.

Cell Ranger ATAC counts cut sites: a fragment with both ends in a peak counts 2, so read matrices hold
more 2s than 1s. PoissonVI models fragments: fragments = ceil(reads / 2). A matrix with more 1s than 2s
already holds fragments.
"""

import logging

import numpy as np

from .errors import InputError

COUNT_TYPES = ("auto", "reads", "fragments")
log = logging.getLogger(__name__)


def detect_count_type(counts):
    """Return ("reads" | "fragments", n_ones, n_twos): reads when stored 2s outnumber 1s."""
    values = counts.data
    n_ones, n_twos = int((values == 1).sum()), int((values == 2).sum())
    return ("reads" if n_twos > n_ones else "fragments"), n_ones, n_twos


def reads_to_fragments(counts):
    """ceil(reads / 2) on the stored entries of a sparse matrix; zeros stay zero."""
    fragments = counts.copy()
    fragments.data = ((fragments.data.astype(np.int64) + 1) // 2).astype(np.int32)
    return fragments


def to_fragments(adata, count_type="auto"):
    """Convert `adata.X` to fragment counts in place and record the decision in `uns['fragment_conversion']`."""
    if count_type not in COUNT_TYPES:
        raise InputError(f"config count_type: found {count_type!r}; expected one of {', '.join(COUNT_TYPES)}")
    detected, n_ones, n_twos = detect_count_type(adata.X)
    decision = detected if count_type == "auto" else count_type
    log.info(
        "count_type=%s: %d stored entries equal 1, %d equal 2 -> matrix holds %s%s",
        count_type, n_ones, n_twos, decision,
        "; converting with fragments = ceil(reads / 2)" if decision == "reads" else "; kept as they are",
    )
    if decision == "reads":
        adata.X = reads_to_fragments(adata.X)
    adata.uns["fragment_conversion"] = {
        "count_type_config": count_type,
        "detected": detected,
        "applied": decision,
        "n_entries_equal_1": n_ones,
        "n_entries_equal_2": n_twos,
    }
    return adata
