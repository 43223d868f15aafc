import sys

import pandas as pd
from snakemake.utils import validate

validate(config, schema="../schemas/config.schema.yaml")

SAMPLES = pd.read_csv(config["samples"], sep="\t", dtype=str, comment="#").fillna("")
validate(SAMPLES, schema="../schemas/samples.schema.yaml")
if SAMPLES["sample"].duplicated().any():
    raise ValueError(
        f"{config['samples']}: sample names must be unique; duplicated: "
        f"{sorted(SAMPLES.loc[SAMPLES['sample'].duplicated(), 'sample'])}"
    )
SAMPLES = SAMPLES.set_index("sample", drop=False)


wildcard_constraints:
    sample="|".join(map(re.escape, SAMPLES.index)),


SCRIPTS = Path(workflow.current_basedir).parents[1] / "scripts"
LIB = Path(workflow.current_basedir).parent / "lib"
sys.path.insert(0, str(SCRIPTS))  # scripts/atacflow links to workflow/lib
from atacflow.code_dependencies import library_files
from atacflow.config_checks import check_annotation_references
from atacflow.errors import InputError


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


def training_checkpoint(wildcards):
    """Outside the rule's outputs, so that Snakemake keeps it when a training job is killed."""
    return f"results/{wildcards.sample}/checkpoints/train_model.pt"


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
    outputs = []
    for sample in SAMPLES.index:
        outputs += [
            f"results/{sample}/clustered.h5ad",
            f"results/{sample}/da_combined.tsv",
            f"results/{sample}/plots/training.png",
            f"results/{sample}/plots/umap.png",
            f"results/{sample}/plots/da_top_regions.png",
            f"results/{sample}/plots/umap_top_regions.png",
        ]
    return outputs


# Config values that name annotation columns or groups are checked now, before any job runs.
try:
    check_annotation_references(
        config, {sample: sample_cell_metadata(sample) for sample in SAMPLES.index}
    )
except InputError as error:
    raise WorkflowError(str(error)) from None
