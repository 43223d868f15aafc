"""Rule read_matrix: one sample's Cell Ranger ATAC matrix (+ cell annotation) to raw.h5ad, its cells named
`<sample>#<barcode>` and annotated with the sample and the sheet's columns."""

import logging

from ..annotations import join_cell_metadata
from ..matrix_io import read_peak_matrix
from ..provenance import record_step
from ..study import cells_of_library, label_cells
from .files import write_h5ad

log = logging.getLogger("atacflow")


def read_matrix(matrix_path, metadata_path, output, sample, sample_annotation, barcode_suffix=""):
    """`barcode_suffix` (-N) keeps the cells of one library of a Cell Ranger aggr matrix."""
    adata = read_peak_matrix(matrix_path)
    if barcode_suffix:
        adata = cells_of_library(adata, barcode_suffix, matrix_path)
    if metadata_path:
        adata.obs = join_cell_metadata(adata.obs, metadata_path)
    label_cells(adata, sample, sample_annotation)
    log.info("%s (sample %s): %d cells x %d regions, %d nonzero entries", matrix_path, sample, adata.n_obs,
             adata.n_vars, adata.X.nnz)
    parameters = {"path": str(matrix_path), "cell_metadata": str(metadata_path or ""), "sample": sample,
                  **sample_annotation}
    write_h5ad(record_step(adata, "read", parameters), output)
