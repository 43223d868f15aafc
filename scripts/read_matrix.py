"""Rule read_matrix: Cell Ranger ATAC matrix (+ cell annotation) to raw.h5ad."""

from atacflow.errors import run_step
from atacflow.steps.read import read_matrix

run_step(
    lambda: read_matrix(snakemake.params.matrix, snakemake.params.cell_metadata, snakemake.output[0]),
    snakemake.log[0],  # noqa: F821
)
