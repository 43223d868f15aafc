import os
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
    check_sample_sources,
    checksum_column,
    is_url,
    URL_COLUMNS,
)
from atacflow.downloads import ARCHIVE_SUFFIX, local_path
from atacflow.errors import InputError
from atacflow.pseudobulk import ConditionComparison
from atacflow.scheduler_timers import cancel_pending_timers
from atacflow.study import expand_aggregations

validate(config, schema="../schemas/config.schema.yaml")

SAMPLES = pd.read_csv(config["samples"], sep="\t", dtype=str, comment="#").fillna("")
validate(SAMPLES, schema="../schemas/samples.schema.yaml")
for column in ("path", "fragments", "barcodes"):
    if column not in SAMPLES:
        SAMPLES[column] = ""
try:
    check_sample_sheet(SAMPLES, config["samples"])
    REGIONS_POLICY = check_sample_sources(SAMPLES, config["samples"], config)
    SAMPLES = expand_aggregations(
        SAMPLES
    )  # a Cell Ranger aggr output: one sample per library
    check_sample_sheet(SAMPLES, config["samples"], expanded=True)
except InputError as error:
    raise WorkflowError(str(error)) from None
SAMPLES = SAMPLES.set_index("sample", drop=False)
DOWNLOADS_DIR = os.path.normpath(config["downloads"])
ANNOTATION_COLUMNS = annotation_columns(SAMPLES)
MATRIX_SAMPLES = [s for s in SAMPLES.index if SAMPLES.loc[s, "path"]]
FRAGMENT_SAMPLES = [s for s in SAMPLES.index if SAMPLES.loc[s, "fragments"]]
DOWNLOADS = {
    local_path(
        SAMPLES.loc[s, column],
        SAMPLES.loc[s, checksum_column(column)],
        DOWNLOADS_DIR,
    ): SAMPLES.loc[s, column]
    for s in SAMPLES.index
    for column in URL_COLUMNS
    if is_url(SAMPLES.loc[s, column])
}


def one_of(names):
    """A wildcard pattern matching exactly `names` (nothing when there are none)."""
    return "|".join(map(re.escape, names)) or "(?!)"


wildcard_constraints:
    sample=one_of(SAMPLES.index),


def sheet_file(sample, column, unpacked=False):
    """A sheet entry as a local path: the entry itself, or where its address is downloaded (with `unpacked`, the
    folder a matrix archive is unpacked into)."""
    value = SAMPLES.loc[sample, column]
    if not is_url(value):
        return value
    sha256 = SAMPLES.loc[sample, checksum_column(column)]
    return local_path(value, sha256, DOWNLOADS_DIR, unpacked)


def download_url(wildcards):
    return DOWNLOADS[f"{config['downloads']}/{wildcards.sha256}/{wildcards.name}"]


DOWNLOADED_NAMES = sorted({Path(target).name for target in DOWNLOADS})
ARCHIVE_STEMS = [
    name[: -len(ARCHIVE_SUFFIX)]
    for name in DOWNLOADED_NAMES
    if name.endswith(ARCHIVE_SUFFIX)
]


def lib(rule_name):
    """The library files the rule's script imports (directly or through other modules), declared as inputs so
    that editing one reruns exactly the rules that run it."""
    return library_files(SCRIPTS / f"{rule_name}.py", LIB)


def matrix_path(wildcards):
    return sheet_file(wildcards.sample, "path", unpacked=True)


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


def neighbor_settings():
    """The kNN graph's parameters of config cluster: a change of the resolution (Leiden's) or of min_dist (the
    layout's) reruns no graph."""
    return {
        k: config["cluster"][k] for k in ("representation", "n_neighbors", "metric")
    }


def threads_beside_umap(wildcards):
    """Threads of the job that runs beside the single-threaded UMAP layout (differential accessibility): config
    threads, less one core where a local run has no core to spare for the layout (--cores 2, threads 2: 1 each, the
    two jobs side by side instead of one after the other). Executors (SLURM) give each job its own cores. Evaluated
    per job, when the executor is known (it is not yet while the Snakefile is read).
    """
    if not workflow.local_exec or workflow.remote_exec:
        return config["threads"]
    try:
        cores = workflow.cores
    except WorkflowError:  # no --cores (a dry run)
        return config["threads"]
    return max(1, min(config["threads"], cores - 1))


def regions_settings():
    """The region policy (auto resolved), and its BED only when the policy uses one."""
    return {
        "policy": REGIONS_POLICY,
        "bed": config["regions"]["bed"] if REGIONS_POLICY == "bed" else "",
    }


def study_regions_file():
    """The study's regions BED, made by rule study_regions; none for genome tiles."""
    return [] if REGIONS_POLICY == "tiles" else ["results/study/regions.bed"]


def count_inputs(wildcards):
    """A fragments sample's files: the fragments, its cells' source (matrix or barcodes), the regions."""
    sample = wildcards.sample
    inputs = {
        "fragments": sheet_file(sample, "fragments"),
        "regions": study_regions_file(),
        "lib": lib("count_fragments"),
    }
    if SAMPLES.loc[sample, "path"]:
        inputs["raw"] = f"results/samples/{sample}/raw.h5ad"
    elif SAMPLES.loc[sample, "barcodes"]:
        inputs["barcodes"] = sheet_file(sample, "barcodes")
    if REGIONS_POLICY == "tiles" and config["regions"]["chrom_sizes"]:
        inputs["chrom_sizes"] = config["regions"]["chrom_sizes"]
    if not SAMPLES.loc[sample, "path"] and sample_cell_metadata(sample):
        inputs["cell_metadata"] = sample_cell_metadata(sample)
    return inputs


def count_cells(wildcards):
    """Where a fragments sample's cells come from: its matrix, its barcodes file, or its unique fragments."""
    sample = wildcards.sample
    if SAMPLES.loc[sample, "path"]:
        return {"matrix": f"results/samples/{sample}/raw.h5ad"}
    if SAMPLES.loc[sample, "barcodes"]:
        return {"barcodes": sheet_file(sample, "barcodes")}
    return {"min_unique_fragments": config["fragments"]["min_unique_fragments"]}


def count_regions(wildcards):
    if REGIONS_POLICY == "tiles":
        return {
            "tile_size": config["regions"]["tile_size"],
            "chrom_sizes": config["regions"]["chrom_sizes"],
        }
    return {"bed": "results/study/regions.bed"}


def count_annotation(wildcards):
    """The sheet's annotation of a fragments file alone (a matrix's cells carry it already, from read_matrix)."""
    if SAMPLES.loc[wildcards.sample, "path"]:
        return {}
    return sheet_annotation(wildcards.sample)


def count_cell_metadata(wildcards):
    """The cell table of a fragments file alone (a matrix's cells carry it already)."""
    if SAMPLES.loc[wildcards.sample, "path"]:
        return ""
    return sample_cell_metadata(wildcards.sample)


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
    return (
        expand(
            "results/samples/{sample}/plots/fragment_qc.png", sample=FRAGMENT_SAMPLES
        )
        + [
            "results/study/clustered.h5ad",
            "results/study/da_combined.tsv",
            "results/study/qc/integration.tsv",
            "results/study/plots/training.png",
            "results/study/plots/umap.png",
            "results/study/plots/cells_per_cluster.png",
            "results/study/plots/da_top_regions.png",
            "results/study/plots/umap_top_regions.png",
        ]
        + (["results/study/conditions_combined.tsv"] if CONDITION_NAMES else [])
    )


# The sheet's and cell tables' columns, and config values that name annotation columns or groups, are checked
# now, before any job runs.
try:
    check_annotation_references(
        config,
        {
            sample: (sample_cell_metadata(sample), sheet_annotation(sample))
            for sample in SAMPLES.index
        },
        FRAGMENT_SAMPLES,
    )
except InputError as error:
    raise WorkflowError(str(error)) from None
