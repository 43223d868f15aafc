"""Rule filter_cells_regions: regions detected in enough cells, then cells with enough fragments and regions."""

from ..filtering import filter_cells_and_regions
from ..provenance import record_step
from .files import read_h5ad, write_h5ad, write_tsv


def filter_matrix(fragments_path, params, output, stats_output):
    adata, stats = filter_cells_and_regions(read_h5ad(fragments_path), source=str(fragments_path), **params)
    write_tsv(stats, stats_output)
    write_h5ad(record_step(adata, "filter", params), output)
