"""Rule plot_umap: the UMAP coloured by cluster and by the configured annotation columns."""

from .. import plots
from ..errors import InputError
from ..keys import CLUSTER_KEY
from .files import atomic_path, read_h5ad


def plot_umap(clustered_path, columns, output):
    adata = read_h5ad(clustered_path)
    missing = [column for column in columns if column not in adata.obs]
    if missing:
        raise InputError(f"config plots.umap_columns: {missing} not in the cells' annotation {list(adata.obs.columns)}")
    with atomic_path(output) as temporary:
        plots.plot_umap(adata, [CLUSTER_KEY, *columns], temporary)
