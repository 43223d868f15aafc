"""Rule plot_umap: the UMAP coloured by cluster and by the configured annotation columns."""

from .. import plots
from ..errors import InputError
from ..keys import CLUSTER_KEY
from .clustered import read_clustered
from .files import atomic_path


def plot_umap(clusters_path, umap_path, columns, output):
    adata = read_clustered(clusters_path, umap_path)
    missing = [column for column in columns if column not in adata.obs]
    if missing:
        raise InputError(f"config plots.umap_columns: {missing} not in the cells' annotation {list(adata.obs.columns)}")
    with atomic_path(output) as temporary:
        plots.plot_umap(adata, [CLUSTER_KEY, *columns], temporary)
