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


LIB = Path(workflow.current_basedir).parent / "lib"


def lib(*modules):
    """Library files a rule's script runs, declared as inputs so that changing them reruns the rule."""
    return [
        str(LIB / f"{module}.py")
        for module in ("__init__", "errors", "steps", "provenance", *modules)
    ]


LIB_MODEL = ("module", "model", "sparse_batches", "training")


def matrix_path(wildcards):
    return SAMPLES.loc[wildcards.sample, "path"]


def cell_metadata_path(wildcards):
    """The sample's own cell_metadata column when given, else config cell_metadata; may be empty."""
    own = SAMPLES.loc[wildcards.sample].get("cell_metadata", "")
    return own or config["cell_metadata"]


def read_inputs(wildcards):
    inputs = {"matrix": matrix_path(wildcards), "lib": lib("matrix_io", "comparisons")}
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
