"""Rule read_matrix: one sample's Cell Ranger ATAC matrix (+ cell annotation) to raw.h5ad."""

from atacflow.errors import run_job
from atacflow.steps.read import read_matrix

run_job(
    lambda: read_matrix(
        snakemake.params.matrix,  # noqa: F821
        snakemake.params.cell_metadata,  # noqa: F821
        snakemake.output[0],  # noqa: F821
        snakemake.wildcards.sample,  # noqa: F821
        dict(snakemake.params.annotation),  # noqa: F821
        snakemake.params.barcode_suffix,  # noqa: F821
    ),
    snakemake.log[0],  # noqa: F821
)
