"""Checks of the sample sheet and of the config values that name cell annotation columns and groups, run when the
workflow is planned, before any job: a run on data without the named columns stops at once, not after training."""

import pandas as pd

from .annotations import cell_metadata_header, read_cell_metadata
from .errors import InputError
from .keys import CLUSTER_KEY
from .study import BARCODE_KEY, SAMPLE_KEY, SHEET_COLUMNS

# columns the workflow adds to every cell; cell tables and sheets must not bring their own
RESERVED_COLUMNS = (SAMPLE_KEY, BARCODE_KEY, CLUSTER_KEY)


def check_sample_sheet(sheet, path):
    """The same sample name or the same input path twice is an error naming them."""
    for column, what in (("sample", "sample names"), ("path", "input paths")):
        repeated = sorted(sheet.loc[sheet[column].duplicated(), column])
        if repeated:
            raise InputError(f"sample sheet {path}: {what} must be unique; found more than once: {repeated}")
    reserved = [column for column in annotation_columns(sheet) if column in RESERVED_COLUMNS]
    if reserved:
        raise InputError(f"sample sheet {path}: columns {reserved} are made by the workflow; rename them")


def annotation_columns(sheet):
    """The sheet's sample-level annotation columns: every column but sample, path and cell_metadata."""
    return [column for column in sheet.columns if column not in SHEET_COLUMNS]


def annotation_references(config):
    """Every config value that names an annotation column, as (config key, column, [(config key, group)])."""
    references = [(f"plots.umap_columns[{i}]", column, []) for i, column in enumerate(config["plots"]["umap_columns"])]
    for key, column in (("model.batch_key", config["model"].get("batch_key")),
                        ("integration.label_key", config["integration"].get("label_key"))):
        if column:
            references.append((key, column, []))
    for i, entry in enumerate(config["da"]["comparisons"]):
        groups = [(f"da.comparisons[{i}].{name}", str(entry[name])) for name in ("group1", "group2")
                  if str(entry.get(name, "rest")) != "rest"]
        references.append((f"da.comparisons[{i}].groupby", entry["groupby"], groups))
    return references


def check_annotation_references(config, samples):
    """Check, before any job runs, the sheet's and cell tables' columns against each other and against every
    column and group the config names.

    `samples` maps each sample to (cell_metadata path or "", {sheet column: value}). A named column must exist in
    some sample's annotation (the batch key in every sample's); a named group needs at least 2 annotated cells (or
    a sample whose sheet value it is). Leiden clusters exist only after clustering and are not checked here.
    """
    references = [ref for ref in annotation_references(config) if ref[1] != CLUSTER_KEY]
    columns = {column for _, column, _ in references}
    annotations = {}
    for sample, (path, sheet_values) in samples.items():
        header = cell_metadata_header(path)[1:] if path else []
        clashing = [column for column in header if column in RESERVED_COLUMNS or column in sheet_values]
        if clashing:
            raise InputError(
                f"cell_metadata {path} (sample {sample!r}): columns {clashing} clash with the sample sheet's columns "
                f"or the workflow's own ({', '.join(RESERVED_COLUMNS)}); rename them in one of the two"
            )
        table = read_cell_metadata(path, columns) if path and columns & set(header) else pd.DataFrame()
        sample_values = {SAMPLE_KEY: sample, **sheet_values}  # hold for every cell of the sample
        annotations[sample] = (table, sample_values, header + [SAMPLE_KEY, BARCODE_KEY, *sheet_values])
    for key, column, groups in references:
        _check_reference(key, column, groups, samples, annotations)


def _check_reference(key, column, groups, samples, annotations):
    lacking = [sample for sample, (_, _, found) in annotations.items() if column not in found]
    if len(lacking) == len(annotations) or (key == "model.batch_key" and lacking):
        sample = lacking[0]
        path = samples[sample][0]
        source = f"cell_metadata {path}" if path else "no cell_metadata"
        raise InputError(
            f"config {key}: column {column!r} is not in the cell annotation of sample {sample!r} ({source}); "
            f"columns found: {annotations[sample][2] + [CLUSTER_KEY]}; expected one of them (or remove the setting)"
        )
    tables = [table[column] for table, _, _ in annotations.values() if column in table]
    counts = pd.concat(tables).value_counts() if tables else pd.Series(dtype=int)
    sample_level = {str(values[column]) for _, values, _ in annotations.values() if column in values}
    for group_key, group in groups:
        if group not in sample_level and counts.get(group, 0) < 2:
            found = sorted(sample_level | set(map(str, counts.index)))[:20]
            raise InputError(
                f"config {group_key}: group {group!r} of column {column!r} has {counts.get(group, 0)} cells in the "
                f"samples' annotation ({', '.join(annotations)}); expected at least 2; values found: {found}"
            )
