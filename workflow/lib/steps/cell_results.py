"""A job's results per cell without the matrix (the kNN graph, the UMAP layout), and their join back onto the
study's cells by the jobs after it."""

import numpy as np

from ..errors import InputError

PROVENANCE_KEY = "atacflow"


def cell_results(adata, obsm=(), obsp=(), uns=()):
    """An AnnData of `adata`'s cells that holds only the named obsm, obsp and uns entries and the provenance."""
    import anndata as ad

    kept_uns = {key: adata.uns[key] for key in uns}
    if PROVENANCE_KEY in adata.uns:
        kept_uns[PROVENANCE_KEY] = adata.uns[PROVENANCE_KEY]
    return ad.AnnData(obs=adata.obs[[]], obsm={key: adata.obsm[key] for key in obsm},
                      obsp={key: adata.obsp[key] for key in obsp}, uns=kept_uns)


def join_cell_results(adata, results, results_path):
    """`adata` (in place) with the obsm, obsp and uns entries of `results` (cell_results of the same cells, read from
    `results_path`) and the provenance of both. A step recorded in both with different parameters means the two
    files come from different runs: refused, as are results of other cells or in another order."""
    if not results.obs_names.equals(adata.obs_names):
        raise InputError(f"{results_path}: its {results.n_obs} cells are not the study's {adata.n_obs} in the same "
                         "order; it comes from another run: delete it and run the workflow again")
    ours, theirs = adata.uns.get(PROVENANCE_KEY, {}), results.uns.get(PROVENANCE_KEY, {})
    differing = [step for step in ours.keys() & theirs.keys()
                 if step != "versions" and not _same(ours[step], theirs[step])]
    if differing:
        raise InputError(f"{results_path}: made with other parameters of {sorted(differing)} than the file it joins; "
                         "it comes from another run: delete it and run the workflow again")
    adata.obsm.update(results.obsm)
    adata.obsp.update(results.obsp)
    adata.uns.update(results.uns)
    adata.uns[PROVENANCE_KEY] = {**ours, **theirs}
    return adata


def _same(first, second):
    """Equality of provenance entries as h5ad gives them back (nested dicts of scalars, strings and arrays)."""
    if isinstance(first, dict) or isinstance(second, dict):
        return (isinstance(first, dict) and isinstance(second, dict) and first.keys() == second.keys()
                and all(_same(first[key], second[key]) for key in first))
    return np.array_equal(np.asarray(first), np.asarray(second))
