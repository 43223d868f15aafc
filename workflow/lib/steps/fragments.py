"""Rule count_fragments: reads to fragments (ceil(reads / 2)) when the matrix counts reads."""

from ..fragments import to_fragments
from ..provenance import record_step
from .files import read_h5ad, write_h5ad


def count_fragments(raw_path, count_type, output):
    adata = to_fragments(read_h5ad(raw_path), count_type)
    write_h5ad(record_step(adata, "fragments", {"count_type": count_type}), output)
