"""Checks of the config values that name cell annotation columns and groups, run when the workflow is planned,
before any job: a run on data without the named columns stops at once instead of after training."""

import pandas as pd

from .annotations import cell_metadata_header, read_cell_metadata
from .errors import InputError
from .keys import CLUSTER_KEY

# columns the workflow itself adds to every cell, usable wherever an annotation column is
WORKFLOW_COLUMNS = (CLUSTER_KEY,)


def annotation_references(config):
    """Every config value that names an annotation column, as (config key, column, [(config key, group)])."""
    references = [(f"plots.umap_columns[{i}]", column, []) for i, column in enumerate(config["plots"]["umap_columns"])]
    if config["model"].get("batch_key"):
        references.append(("model.batch_key", config["model"]["batch_key"], []))
    for i, entry in enumerate(config["da"]["comparisons"]):
        groups = [(f"da.comparisons[{i}].{name}", str(entry[name])) for name in ("group1", "group2")
                  if str(entry.get(name, "rest")) != "rest"]
        references.append((f"da.comparisons[{i}].groupby", entry["groupby"], groups))
    return references


def check_annotation_references(config, sample_metadata):
    """Check, before any job runs, that every column the config names exists in every sample's annotation and
    that every group a comparison names has at least 2 annotated cells there.

    `sample_metadata` maps each sample to its cell_metadata path ("" for none). Columns the workflow adds
    (leiden) are accepted without a check of their values, which exist only after clustering.
    """
    references = [ref for ref in annotation_references(config) if ref[1] not in WORKFLOW_COLUMNS]
    if not references:
        return
    columns = {column for _, column, _ in references}
    for sample, path in sample_metadata.items():
        _check_sample(sample, path, read_cell_metadata(path, columns) if path else pd.DataFrame(), references)


def _check_sample(sample, path, table, references):
    source = f"cell_metadata {path}" if path else "no cell_metadata"
    for key, column, groups in references:
        if column not in table.columns:
            found = (cell_metadata_header(path)[1:] if path else []) + list(WORKFLOW_COLUMNS)
            raise InputError(
                f"config {key}: column {column!r} is not in the cell annotation of sample {sample!r} ({source}); "
                f"columns found: {found}; expected one of them (or remove the setting)"
            )
        counts = table[column].value_counts()
        for group_key, group in groups:
            if counts.get(group, 0) < 2:
                raise InputError(
                    f"config {group_key}: group {group!r} of column {column!r} has {counts.get(group, 0)} cells in "
                    f"sample {sample!r} ({source}); expected at least 2; values found: {sorted(counts.index)[:20]}"
                )
