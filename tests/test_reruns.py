"""Exact reruns: after each kind of change, `snakemake --dry-run` plans exactly the rules that depend on it."""

import os
from contextlib import contextmanager
from pathlib import Path

import pytest

from conftest import DONORS, GRANJA_1K, GRANJA_DONORS, ROOT, run_snakemake, write_sample_sheet

FIGURES = {"clustered", "plot_da", "plot_umap", "all"}  # what reads the clusters and the UMAP
AFTER_UMAP = {"umap"} | FIGURES
AFTER_CLUSTERING = {"cluster", "differential_accessibility", "integration", "condition_da"} | FIGURES
AFTER_NEIGHBORS = {"neighbors"} | AFTER_CLUSTERING | AFTER_UMAP
AFTER_TRAINING = {"train_model", "plot_training"} | AFTER_NEIGHBORS


def planned_rules(workdir, configfiles=(), sheet=None):
    """The rules of the jobs a dry run plans (an empty set when nothing is to be done)."""
    output = run_snakemake(workdir, "--dry-run", configfiles=configfiles, sheet=sheet).stdout
    lines = output.splitlines()
    if "Job stats:" not in lines:
        assert "Nothing to be done" in output, output[-2000:]
        return set()
    table = lines[lines.index("Job stats:") + 3:]
    return {line.split()[0] for line in table[: next(i for i, line in enumerate(table) if line.startswith("total"))]}


def test_nothing_reruns_without_a_change(workflow_run):
    assert planned_rules(workflow_run) == set()


@pytest.mark.parametrize(
    "yaml_text, expected",
    [
        ("da:\n  delta: 0.7\n", {"differential_accessibility", "plot_da", "all"}),
        ("plots:\n  n_top_regions: 5\n", {"plot_da", "all"}),
        ("cluster:\n  resolution: 0.5\n", AFTER_CLUSTERING),  # no new graph, no new layout
        ("cluster:\n  min_dist: 0.4\n", AFTER_UMAP),  # no new graph, no new clusters
        ("cluster:\n  n_neighbors: 20\n", AFTER_NEIGHBORS),
        ("cluster:\n  metric: cosine\n", AFTER_NEIGHBORS),
        ("cluster:\n  representation: latent\n", AFTER_NEIGHBORS),
        ("train:\n  max_epochs: 201\n", AFTER_TRAINING),
        ("model:\n  n_hidden: 40\n", AFTER_TRAINING),
        ("filter:\n  min_cell_fragments: 25\n", {"filter_cells_regions"} | AFTER_TRAINING),
        ("integration:\n  label_key: donor\n", {"integration", "all"}),
        ("da:\n  pseudobulk:\n    fdr: 0.1\n", {"condition_da", "all"}),
        ("train:\n  checkpoint_every_epochs: 3\n", set()),
        ("regions:\n  bed: unused_with_policy_overlap.bed\n", set()),
    ],
    ids=["da-parameter", "plot-parameter", "cluster-parameter", "umap-parameter", "neighbors-parameter",
         "metric-parameter", "representation-parameter", "training-parameter",
         "model-parameter", "filter-parameter", "integration-parameter", "condition-parameter", "checkpoint-interval",
         "unused-region-bed"],
)
def test_a_parameter_change_reruns_what_depends_on_it(workflow_run, tmp_path, yaml_text, expected):
    change = tmp_path / "change.yaml"
    change.write_text(yaml_text)
    assert planned_rules(workflow_run, [change]) == expected


FROM_FILTER = {"filter_cells_regions"} | AFTER_TRAINING
FROM_MERGE = {"merge_samples"} | FROM_FILTER
FROM_REGIONS = {"study_regions"} | FROM_MERGE
EVERY_RULE = {"read_matrix", "fragments_from_matrix"} | FROM_REGIONS
PLOTS = {"plot_training", "plot_umap", "plot_da", "integration", "condition_da", "all"}


@pytest.mark.parametrize(
    "module, expected",
    [
        # each rule's own step module: that stage and what follows it, nothing upstream
        ("steps/read.py", EVERY_RULE),
        ("steps/regions.py", FROM_REGIONS),
        ("steps/fragments_from_matrix.py", {"fragments_from_matrix"} | FROM_MERGE),
        ("steps/region_files.py", FROM_REGIONS),
        ("steps/merge.py", FROM_MERGE),
        ("steps/integration.py", {"integration", "all"}),
        ("steps/conditions.py", {"condition_da", "all"}),
        ("pseudobulk.py", {"condition_da", "all"}),
        ("steps/filter.py", FROM_FILTER),
        ("steps/train.py", AFTER_TRAINING),
        ("steps/neighbors.py", AFTER_NEIGHBORS),
        ("steps/cluster.py", AFTER_CLUSTERING),
        ("steps/umap.py", AFTER_UMAP),
        ("steps/clustered.py", FIGURES),
        ("steps/cell_results.py", AFTER_NEIGHBORS),
        ("steps/da.py", {"differential_accessibility", "plot_da", "all"}),
        ("steps/plot_training.py", {"plot_training", "all"}),
        ("steps/plot_umap.py", {"plot_umap", "all"}),
        ("steps/plot_da.py", {"plot_da", "all"}),
        # library modules: every rule whose script imports them, directly or through other modules
        ("matrix_io.py", EVERY_RULE),
        ("fragments.py", {"fragments_from_matrix"} | FROM_MERGE),
        ("peak_merge.py", FROM_REGIONS),
        ("fragment_counting.py", set()),  # fragments files only: no rule of a study of matrices runs it
        ("integration.py", {"integration", "all"}),
        ("filtering.py", FROM_FILTER),
        ("module.py", AFTER_TRAINING),
        ("decoded_profiles.py", AFTER_TRAINING),
        ("checkpoints.py", AFTER_TRAINING),
        ("optimizer.py", AFTER_TRAINING),
        ("clustering.py", AFTER_CLUSTERING),
        ("neighbors.py", AFTER_NEIGHBORS),
        ("umap_layout.py", AFTER_UMAP),
        ("da.py", {"differential_accessibility", "plot_da", "all"}),
        ("plots.py", PLOTS),
        ("study.py", EVERY_RULE),
        ("steps/files.py", EVERY_RULE),
    ],
)
def test_a_code_change_reruns_the_rules_that_run_it(workflow_run, module, expected):
    with edited(ROOT / "workflow" / "lib" / module):
        assert planned_rules(workflow_run) == expected


def test_a_config_check_change_reruns_nothing(workflow_run):
    """config_checks.py runs when the workflow is planned, not inside a rule: editing it reruns no job."""
    with edited(ROOT / "workflow" / "lib" / "config_checks.py"):
        assert planned_rules(workflow_run) == set()


@contextmanager
def edited(path):
    """A real one-line edit (Snakemake compares checksums, so a mere touch is not a change), restored after."""
    original, before = path.read_bytes(), path.stat()
    path.write_bytes(original + b"\n# an edit\n")
    try:
        yield
    finally:
        path.write_bytes(original)
        os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))


def test_a_rule_declares_the_modules_its_script_imports_and_no_others():
    from atacflow.code_dependencies import library_files

    lib = ROOT / "workflow" / "lib"
    declared = {str(Path(f).relative_to(lib)) for f in library_files(ROOT / "scripts" / "plot_umap.py", lib)}
    assert declared == {"__init__.py", "errors.py", "keys.py", "plots.py", "steps/__init__.py", "steps/files.py",
                        "steps/cell_results.py", "steps/clustered.py", "steps/plot_umap.py"}
    declared = {str(Path(f).relative_to(lib)) for f in library_files(ROOT / "scripts" / "train_model.py", lib)}
    assert {"model.py", "module.py", "training.py", "checkpoints.py", "sparse_batches.py"} <= declared
    assert not declared & {"plots.py", "da.py", "clustering.py", "matrix_io.py"}


def test_adding_a_sample_reruns_its_own_steps_and_the_joint_ones(workflow_run):
    """A third sample: its per-sample jobs and every joint job, none of the other samples' per-sample jobs (a
    matrix is summed into the new common regions by the joint merge)."""
    rows = [(donor, GRANJA_DONORS / donor, GRANJA_DONORS / donor / "cells.tsv.gz") for donor in DONORS]
    sheet = write_sample_sheet(workflow_run / "three", [*rows, ("third", GRANJA_1K, GRANJA_1K / "cells.tsv.gz")])
    plan = run_snakemake(workflow_run, "--dry-run", sheet=sheet).stdout
    assert {line.split("sample=")[1].strip() for line in plan.splitlines() if "wildcards: sample=" in line} == {"third"}
    assert planned_rules(workflow_run, sheet=sheet) == EVERY_RULE


def planned_threads(workdir, rule, cores):
    """The threads a forced dry run at `--cores cores` plans for `rule`'s job (Snakemake prints them above 1)."""
    output = run_snakemake(workdir, "--dry-run", "--forcerun", rule, "--cores", str(cores)).stdout
    block = output.split(f"rule {rule}:\n", 1)[1].split("\n\n", 1)[0]
    return next((int(line.split(":")[1]) for line in block.splitlines() if line.strip().startswith("threads:")), 1)


def test_da_leaves_a_core_to_the_umap_layout_only_where_none_is_spare(workflow_run):
    """threads: 2 in the test config. At --cores 2 DA plans 1 thread, so that it and the 1-thread layout run side by
    side; with cores to spare it plans the config's 2."""
    assert planned_threads(workflow_run, "differential_accessibility", 2) == 1
    assert planned_threads(workflow_run, "differential_accessibility", 4) == 2
    assert planned_threads(workflow_run, "train_model", 2) == 2
