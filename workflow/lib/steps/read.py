"""Rule read_matrix: a Cell Ranger ATAC matrix (+ cell annotation) to raw.h5ad."""

import logging

from ..annotations import join_cell_metadata
from ..matrix_io import read_peak_matrix
from ..provenance import record_step
from .files import write_h5ad

log = logging.getLogger("atacflow")


def read_matrix(matrix_path, metadata_path, output):
    adata = read_peak_matrix(matrix_path)
    if metadata_path:
        adata.obs = join_cell_metadata(adata.obs, metadata_path)
    log.info("%s: %d cells x %d regions, %d nonzero entries", matrix_path, adata.n_obs, adata.n_vars, adata.X.nnz)
    write_h5ad(record_step(adata, "read", {"path": str(matrix_path), "cell_metadata": str(metadata_path or "")}), output)
