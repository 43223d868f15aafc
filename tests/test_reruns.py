"""Exact reruns: after each kind of change, `snakemake --dry-run` plans exactly the rules that depend on it."""

import os

import pytest

from conftest import ROOT, run_snakemake

AFTER_CLUSTERING = {"differential_accessibility", "plot_da", "plot_umap", "all"}
AFTER_TRAINING = {"train_model", "latent", "cluster", "plot_training"} | AFTER_CLUSTERING


def planned_rules(workdir, configfiles=()):
    """The rules of the jobs a dry run plans (an empty set when nothing is to be done)."""
    output = run_snakemake(workdir, "--dry-run", configfiles=configfiles).stdout
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
        ("cluster:\n  resolution: 0.5\n", {"cluster"} | AFTER_CLUSTERING),
        ("train:\n  max_epochs: 201\n", AFTER_TRAINING),
        ("model:\n  n_hidden: 40\n", AFTER_TRAINING),
        ("filter:\n  min_cell_fragments: 25\n", {"filter_cells_regions"} | AFTER_TRAINING),
    ],
    ids=["da-parameter", "plot-parameter", "cluster-parameter", "training-parameter", "model-parameter", "filter-parameter"],
)
def test_a_parameter_change_reruns_what_depends_on_it(workflow_run, tmp_path, yaml_text, expected):
    change = tmp_path / "change.yaml"
    change.write_text(yaml_text)
    assert planned_rules(workflow_run, [change]) == expected


@pytest.mark.parametrize(
    "module, expected",
    [
        ("da.py", {"differential_accessibility", "plot_da", "all"}),
        ("clustering.py", {"cluster"} | AFTER_CLUSTERING),
        ("neighbors.py", {"cluster"} | AFTER_CLUSTERING),
        ("module.py", AFTER_TRAINING),
        ("fragments.py", {"count_fragments", "filter_cells_regions"} | AFTER_TRAINING),
    ],
)
def test_a_library_change_reruns_the_rules_that_use_it(workflow_run, module, expected):
    """A real edit (Snakemake compares checksums, so a mere touch is not a change); the file is restored after."""
    path = ROOT / "workflow" / "lib" / module
    original, before = path.read_bytes(), path.stat()
    path.write_bytes(original + b"\n# an edit\n")
    try:
        assert planned_rules(workflow_run) == expected
    finally:
        path.write_bytes(original)
        os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
