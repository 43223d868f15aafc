"""Rule fragments_from_matrix: a sample's read matrix as fragments, ceil(reads / 2) when it counts reads, over its own
peaks (merge_samples sums them into the study's regions)."""

from ..fragments import to_fragments
from ..provenance import record_step
from .files import read_h5ad, write_h5ad


def fragments_from_matrix(raw_path, count_type, output):
    adata = to_fragments(read_h5ad(raw_path), count_type)
    write_h5ad(record_step(adata, "fragments", {"count_type": count_type}), output)
