"""Checks of the sample sheet and of the config values that name cell annotation columns and groups, run when the
workflow is planned, before any job: a run on data without the named columns stops at once, not after training."""

import pandas as pd

from .annotations import cell_metadata_header, read_cell_metadata
from .errors import InputError
from .keys import CLUSTER_KEY, FRAGMENT_QC_COLUMNS
from .pseudobulk import ConditionComparison, check_design
from .study import BARCODE_KEY, SAMPLE_KEY, SHEET_COLUMNS

# columns the workflow adds to every cell (and FRAGMENT_QC_COLUMNS to those of a fragments file); cell tables and
# sheets must not bring their own
RESERVED_COLUMNS = (SAMPLE_KEY, BARCODE_KEY, CLUSTER_KEY)


def check_sample_sheet(sheet, path, expanded=False):
    """The same sample name or the same input file twice is an error naming them (once aggr rows are expanded into
    their libraries, which share their matrix and fragments, only names are checked)."""
    keys = {"sample names": sheet["sample"]}
    if not expanded:
        keys["input paths"] = sheet.get("path", pd.Series("", index=sheet.index))
        # one fragments file may be split into samples by their barcode lists
        fragments = sheet.get("fragments", pd.Series("", index=sheet.index))
        keys["fragments files (with their barcodes)"] = fragments.where(
            fragments == "", fragments + " " + sheet.get("barcodes", pd.Series("", index=sheet.index)))
    for what, values in keys.items():
        given = values[values != ""]
        repeated = sorted(set(given[given.duplicated()]))
        if repeated:
            raise InputError(f"sample sheet {path}: {what} must be unique; found more than once: {repeated}")
    with_fragments = "fragments" in sheet and (sheet["fragments"] != "").any()
    workflow_columns = RESERVED_COLUMNS + (FRAGMENT_QC_COLUMNS if with_fragments else ())
    reserved = [column for column in annotation_columns(sheet) if column in workflow_columns]
    if reserved:
        raise InputError(f"sample sheet {path}: columns {reserved} are made by the workflow; rename them")


URL_COLUMNS = ("path", "fragments", "barcodes")


def is_url(value):
    return str(value).startswith(("http://", "https://"))


def checksum_column(column):
    return "sha256" if column == "path" else f"{column}_sha256"


def check_sample_sources(sheet, path, config):
    """What each sample reads: a matrix (`path`), a fragments file, or both; the region policy they allow; the
    checksums of addresses. Returns the region policy, `auto` resolved (overlap with a matrix, else tiles)."""
    for _, row in sheet.iterrows():
        where = f"sample sheet {path}, sample {row['sample']!r}"
        if not row.get("path") and not row.get("fragments"):
            raise InputError(f"{where}: no path and no fragments; expected a Cell Ranger matrix (path), a fragments "
                             "file (fragments), or both")
        if row.get("barcodes") and row.get("path"):
            raise InputError(f"{where}: barcodes is given with a matrix (path); the matrix's barcodes are the cells, "
                             "so remove one of the two (barcodes is for a fragments file alone)")
        if row.get("barcodes") and not row.get("fragments"):
            raise InputError(f"{where}: barcodes without fragments; expected a fragments file whose cells they are")
        if row.get("aggregation_csv") and not row.get("path"):
            raise InputError(f"{where}: aggregation_csv without path; expected the aggr run's matrix in path")
        for column in ("cell_metadata", "aggregation_csv"):
            if is_url(row.get(column, "")):
                raise InputError(f"{where}: {column} is an address ({row[column]}); expected a local file (it is "
                                 "read when the workflow is planned, before any download)")
        for column in URL_COLUMNS:
            if is_url(row.get(column, "")) and len(row.get(checksum_column(column), "")) != 64:
                raise InputError(f"{where}: {column} is an address ({row[column]}) without its checksum; expected the "
                                 f"file's SHA-256 (64 hex digits) in column {checksum_column(column)}")
    return _region_policy(sheet, path, config)


def _region_policy(sheet, path, config):
    with_matrix = (sheet.get("path", pd.Series(dtype=str)) != "").to_numpy()
    with_fragments = (sheet.get("fragments", pd.Series("", index=sheet.index)) != "").to_numpy()
    policy = config["regions"]["policy"]
    if policy == "auto":
        policy = "overlap" if with_matrix.any() else "tiles"
    lacking = sorted(sheet["sample"][~with_fragments])
    if policy == "overlap" and not with_matrix.any():
        raise InputError(f"config regions.policy overlap: no sample of {path} has a peak matrix (path); expected "
                         "policy tiles or bed for fragments files alone")
    if policy == "tiles" and lacking:
        raise InputError(f"config regions.policy tiles: samples {lacking} have no fragments file; genome tiles are "
                         "counted from fragments (use policy overlap or bed for peak matrices)")
    if policy == "bed" and not config["regions"]["bed"]:
        raise InputError("config regions.bed: empty; expected a BED file of regions when regions.policy is bed")
    for key in ("min_cell_unique_fragments", "min_cell_frip"):
        if config["filter"][key] and lacking:
            raise InputError(f"config filter.{key}: samples {lacking} have no fragments file; expected fragments "
                             f"for every sample (or {key}: 0)")
    if config["filter"]["min_cell_frip"] and policy == "tiles":
        raise InputError("config filter.min_cell_frip: regions.policy is tiles, which hold every fragment (FRiP 1); "
                         "expected peaks (policy bed) or min_cell_frip: 0")
    return policy


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
    for i, entry in enumerate(config["da"]["conditions"]):
        references.append((f"da.conditions[{i}].column", entry["column"], []))
        references += [(f"da.conditions[{i}].covariates", covariate, []) for covariate in entry.get("covariates", [])]
    for i, entry in enumerate(config["da"]["comparisons"]):
        groups = [(f"da.comparisons[{i}].{name}", str(entry[name])) for name in ("group1", "group2")
                  if str(entry.get(name, "rest")) != "rest"]
        references.append((f"da.comparisons[{i}].groupby", entry["groupby"], groups))
    return references


def check_annotation_references(config, samples, fragment_samples=()):
    """Check, before any job runs, the sheet's and cell tables' columns against each other and against every
    column and group the config names.

    `samples` maps each sample to (cell_metadata path or "", {sheet column: value}). A named column must exist in
    some sample's annotation (the batch key in every sample's); a named group needs at least 2 annotated cells (or
    a sample whose sheet value it is). Leiden clusters exist only after clustering and are not checked here.
    Samples in `fragment_samples` get fragment-QC columns too, which their cell tables must not bring.
    """
    references = [ref for ref in annotation_references(config) if ref[1] != CLUSTER_KEY]
    columns = {column for _, column, _ in references}
    annotations = {}
    for sample, (path, sheet_values) in samples.items():
        header = cell_metadata_header(path)[1:] if path else []
        reserved = RESERVED_COLUMNS + (FRAGMENT_QC_COLUMNS if sample in fragment_samples else ())
        clashing = [column for column in header if column in reserved or column in sheet_values]
        if clashing:
            raise InputError(
                f"cell_metadata {path} (sample {sample!r}): columns {clashing} clash with the sample sheet's columns "
                f"or the workflow's own ({', '.join(reserved)}); rename them in one of the two"
            )
        table = read_cell_metadata(path, columns) if path and columns & set(header) else pd.DataFrame()
        sample_values = {SAMPLE_KEY: sample, **sheet_values}  # hold for every cell of the sample
        annotations[sample] = (table, sample_values, header + [SAMPLE_KEY, BARCODE_KEY, *sheet_values])
    for key, column, groups in references:
        _check_reference(key, column, groups, samples, annotations)
    names = [ConditionComparison.from_config(entry).name for entry in config["da"]["conditions"]]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise InputError(f"config da.conditions: comparisons {repeated} are listed more than once; expected each "
                         "column, group1, group2 once (their tables and figures are named by them)")
    for i, entry in enumerate(config["da"]["conditions"]):
        comparison = ConditionComparison.from_config(entry)
        comparison.check_covariates(f"da.conditions[{i}]")
        _check_condition(f"da.conditions[{i}]", comparison, annotations)


def _check_condition(key, comparison, annotations):
    """Samples as replicates need at least 2 samples per group (pseudobulk units: one sample and condition value,
    from the sheet or the cell tables), and a design whose covariates are not confounded with the condition."""
    units = []
    for sample, (table, sample_values, _) in annotations.items():
        values = {sample_values[comparison.column]} if comparison.column in sample_values else \
            set(table[comparison.column].dropna().astype(str)) if comparison.column in table else set()
        for value in values & {comparison.group1, comparison.group2}:
            covariates = {c: sample_values[c] if c in sample_values else _one_value(table, c, sample, key)
                          for c in comparison.covariates}
            units.append({"sample": sample, "condition": value, **covariates})
    units = pd.DataFrame(units, columns=list(dict.fromkeys(["sample", "condition", *comparison.covariates])))
    for group in (comparison.group1, comparison.group2):
        holding = sorted(units.loc[units["condition"] == group, "sample"])
        if len(holding) < 2:
            raise InputError(
                f"config {key}: group {group!r} of column {comparison.column!r} has {len(holding)} samples "
                f"{holding}; expected at least 2, since samples are the replicates of a condition test (for a "
                "descriptive comparison of cells, use da.comparisons: the model-based DA)"
            )
    check_design(units, comparison)


def _one_value(table, column, sample, key):
    values = table[column].dropna().astype(str).unique() if column in table else []
    if len(values) != 1:
        raise InputError(f"config {key}: covariate {column!r} has {len(values)} values in sample {sample!r}; "
                         "expected one value per sample (a sample-level covariate)")
    return values[0]


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
