"""Rule unpack_matrix: a downloaded filtered_peak_bc_matrix.tar.gz unpacked into a matrix folder."""

from atacflow.errors import run_job
from atacflow.steps.download import unpack_matrix_archive

run_job(
    lambda: unpack_matrix_archive(snakemake.input[0], snakemake.output[0]),  # noqa: F821
    snakemake.log[0],  # noqa: F821
)
