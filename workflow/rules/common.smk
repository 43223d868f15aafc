import sys

import pandas as pd
from snakemake.utils import validate

SCRIPTS = Path(workflow.current_basedir).parents[1] / "scripts"
LIB = Path(workflow.current_basedir).parent / "lib"
sys.path.insert(0, str(SCRIPTS))  # scripts/atacflow links to workflow/lib
from atacflow.code_dependencies import library_files
from atacflow.config_checks import (
    annotation_columns,
    check_annotation_references,
    check_sample_sheet,
)
from atacflow.errors import InputError
from atacflow.pseudobulk import ConditionComparison
from atacflow.study import expand_aggregations

validate(config, schema="../schemas/config.schema.yaml")

SAMPLES = pd.read_csv(config["samples"], sep="\t", dtype=str, comment="#").fillna("")
validate(SAMPLES, schema="../schemas/samples.schema.yaml")
try:
    check_sample_sheet(SAMPLES, config["samples"])
    SAMPLES = expand_aggregations(
        SAMPLES
    )  # a Cell Ranger aggr output: one sample per library
    check_sample_sheet(SAMPLES, config["samples"], expanded=True)
except InputError as error:
    raise WorkflowError(str(error)) from None
SAMPLES = SAMPLES.set_index("sample", drop=False)
ANNOTATION_COLUMNS = annotation_columns(SAMPLES)


wildcard_constraints:
    sample="|".join(map(re.escape, SAMPLES.index)),


def lib(rule_name):
    """The library files the rule's script imports (directly or through other modules), declared as inputs so
    that editing one reruns exactly the rules that run it."""
    return library_files(SCRIPTS / f"{rule_name}.py", LIB)


def matrix_path(wildcards):
    return SAMPLES.loc[wildcards.sample, "path"]


def sample_cell_metadata(sample):
    """The sample's own cell_metadata column when given, else config cell_metadata; may be empty."""
    return SAMPLES.loc[sample].get("cell_metadata", "") or config["cell_metadata"]


def cell_metadata_path(wildcards):
    return sample_cell_metadata(wildcards.sample)


def sheet_annotation(sample):
    """The sheet's extra columns (condition, donor, ...) for one sample: annotation of all its cells."""
    return {column: SAMPLES.loc[sample, column] for column in ANNOTATION_COLUMNS}


def sample_annotation(wildcards):
    return sheet_annotation(wildcards.sample)


def barcode_suffix(wildcards):
    """-N for the N-th library of a Cell Ranger aggr matrix, else empty."""
    return SAMPLES.loc[wildcards.sample, "barcode_suffix"]


def regions_bed(wildcards):
    """The user's region BED when regions.policy is bed (an input, so that editing it reruns the merge)."""
    return [config["regions"]["bed"]] if config["regions"]["policy"] == "bed" else []


def training_settings():
    """config train without checkpoint_every_epochs: how often checkpoints are written changes no number, so it is
    no parameter (changing it reruns nothing); the script reads it from the config."""
    return {k: v for k, v in config["train"].items() if k != "checkpoint_every_epochs"}


def regions_settings():
    """The region policy, and its BED only when the policy uses one."""
    policy = config["regions"]["policy"]
    return {
        "policy": policy,
        "bed": config["regions"]["bed"] if policy == "bed" else "",
    }


def model_da_settings():
    """The model-based DA's settings: config da without the condition tests (their own rule's)."""
    return {
        k: v for k, v in config["da"].items() if k not in ("conditions", "pseudobulk")
    }


CONDITION_NAMES = [
    ConditionComparison.from_config(entry).name for entry in config["da"]["conditions"]
]


def umap_columns():
    """UMAP colours: Leiden (always), the sample when there are several, then the configured columns."""
    by_sample = ["sample"] if len(SAMPLES) > 1 else []
    return by_sample + [
        c for c in config["plots"]["umap_columns"] if c not in by_sample
    ]


def matrix_files(path):
    """A matrix folder's files (so that editing one of them reruns the read; a folder's own time stamp does not
    change when a file in it is rewritten), or the .h5 file; the reader reports what a folder lacks.
    """
    folder = Path(path)
    if not folder.is_dir():
        return [path]
    names = ("matrix.mtx", "barcodes.tsv", "peaks.bed")
    found = [
        folder / f"{n}{gz}"
        for n in names
        for gz in ("", ".gz")
        if (folder / f"{n}{gz}").is_file()
    ]
    return [str(file) for file in found] or [path]


def read_inputs(wildcards):
    inputs = {"matrix": matrix_files(matrix_path(wildcards)), "lib": lib("read_matrix")}
    if cell_metadata_path(wildcards):
        inputs["cell_metadata"] = cell_metadata_path(wildcards)
    return inputs


def final_outputs():
    return [
        "results/study/clustered.h5ad",
        "results/study/da_combined.tsv",
        "results/study/qc/integration.tsv",
        "results/study/plots/training.png",
        "results/study/plots/umap.png",
        "results/study/plots/cells_per_cluster.png",
        "results/study/plots/da_top_regions.png",
        "results/study/plots/umap_top_regions.png",
    ] + (["results/study/conditions_combined.tsv"] if CONDITION_NAMES else [])


# The sheet's and cell tables' columns, and config values that name annotation columns or groups, are checked
# now, before any job runs.
try:
    check_annotation_references(
        config,
        {
            sample: (sample_cell_metadata(sample), sheet_annotation(sample))
            for sample in SAMPLES.index
        },
    )
except InputError as error:
    raise WorkflowError(str(error)) from None
