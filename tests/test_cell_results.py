"""A job's results per cell without the matrix (steps.cell_results), joined back onto the study's cells by the jobs
after it: the named entries and the provenance kept, nothing else carried, results of another run refused."""

import anndata as ad
import numpy as np
import pytest
import scipy.sparse as sp

from atacflow.errors import InputError
from atacflow.provenance import record_step
from atacflow.steps.cell_results import cell_results, join_cell_results
from atacflow.steps.files import read_h5ad, write_h5ad


def _study(n_cells=30):
    rng = np.random.default_rng(0)
    adata = ad.AnnData(sp.random(n_cells, 8, density=0.3, format="csr", dtype=np.float32, random_state=0),
                       obsm={"X_poissonvi": rng.normal(size=(n_cells, 3))})
    adata.obs_names = [f"cell{i}" for i in range(n_cells)]
    adata.obs["sample"] = "s1"
    return record_step(adata, "model", {"n_latent": 3, "regions": ["chr1:1-10", "chr1:20-30"]})


def _graph(study):
    graph = study.copy()
    graph.obsp["connectivities"] = sp.identity(study.n_obs, format="csr", dtype=np.float32)
    graph.obsm["unnamed"] = np.zeros((study.n_obs, 2))
    graph.uns["neighbors"], graph.uns["unnamed"] = {"params": {"n_neighbors": 15}}, 1
    return graph


def test_results_travel_without_the_matrix_and_join_back_with_their_provenance(tmp_path):
    study = _study()
    results = record_step(cell_results(_graph(study), obsm=["X_poissonvi"], obsp=["connectivities"],
                                       uns=["neighbors"]), "neighbors", {"n_neighbors": 15})
    write_h5ad(results, tmp_path / "neighbors.h5ad")
    read_back = read_h5ad(tmp_path / "neighbors.h5ad")
    assert read_back.n_vars == 0 and list(read_back.obs_names) == list(study.obs_names)
    assert list(read_back.obs.columns) == [] and list(read_back.obsm) == ["X_poissonvi"]
    assert set(read_back.uns) == {"neighbors", "atacflow"}

    matrix, obs = study.X.copy(), study.obs.copy()
    joined = join_cell_results(study, read_back, tmp_path / "neighbors.h5ad")  # provenance read back from h5ad
    assert joined.shape == matrix.shape and (joined.X != matrix).nnz == 0 and joined.obs.equals(obs)
    np.testing.assert_array_equal(joined.obsp["connectivities"].toarray(), np.eye(study.n_obs))
    assert joined.uns["neighbors"]["params"]["n_neighbors"] == 15 and "unnamed" not in joined.uns
    assert joined.uns["atacflow"]["model"]["n_latent"] == 3 and joined.uns["atacflow"]["neighbors"]["n_neighbors"] == 15


def test_a_named_entry_that_is_absent_is_an_error_not_a_silent_gap():
    with pytest.raises(KeyError):
        cell_results(_study(), uns=["neighbors"])


def test_results_of_other_cells_are_refused_naming_the_file(tmp_path):
    study = _study()
    other = cell_results(_study(29), obsm=["X_poissonvi"])
    with pytest.raises(InputError, match=r"umap.h5ad: its 29 cells are not the study's 30 in the same order"):
        join_cell_results(study, other, tmp_path / "umap.h5ad")
    shuffled = cell_results(study[::-1].copy(), obsm=["X_poissonvi"])
    with pytest.raises(InputError, match="not the study's 30 in the same order"):
        join_cell_results(study, shuffled, tmp_path / "umap.h5ad")


def test_results_of_a_step_run_with_other_parameters_are_refused(tmp_path):
    study = record_step(_study(), "neighbors", {"n_neighbors": 15})
    stale = record_step(cell_results(_study(), obsm=["X_poissonvi"]), "neighbors", {"n_neighbors": 30})
    with pytest.raises(InputError, match=r"umap.h5ad: made with other parameters of \['neighbors'\]"):
        join_cell_results(study, stale, tmp_path / "umap.h5ad")
