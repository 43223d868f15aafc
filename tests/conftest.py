"""Shared fixtures: repository paths, the real test data, and one end-to-end workflow run per session."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data"
GRANJA_1K = DATA / "granja_bmmc_1k"
GRANJA_DONORS = DATA / "granja_two_donors"  # the same 1,000 cells as two samples, one per donor, same peaks
DONORS = ("BMMC_D5T1", "BMMC_D6T1")
PBMC_UNSORTED_H5 = DATA / "pbmc_unsorted_peaks.h5"
SIGNAC = DATA / "signac_atac_small"
PBMC_H5 = DATA / "pbmc_sorted_peaks.h5"
PBMC_MTX = DATA / "pbmc_sorted_mtx"
TEST_CONFIG = ROOT / "tests" / "config" / "config.yaml"
UNANNOTATED = ROOT / "tests" / "config" / "unannotated.yaml"  # for samples without the Granja cell annotation
SNAKEMAKE = [sys.executable, "-m", "snakemake"]
# DA tables' group columns hold cluster numbers and annotation values alike: read as text (README, the table of outputs)
DA_TEXT_COLUMNS = {"group1": str, "group2": str}


def pytest_configure(config):
    config.addinivalue_line("markers", "slurm: runs the workflow through a real SLURM scheduler")


def write_sample_sheet(folder, rows):
    """A sample sheet with absolute paths: rows of (sample, path, cell_metadata)."""
    Path(folder).mkdir(parents=True, exist_ok=True)
    sheet = Path(folder) / "samples.tsv"
    lines = ["sample\tpath\tcell_metadata"] + ["\t".join(map(str, row)) for row in rows]
    sheet.write_text("\n".join(lines) + "\n")
    return sheet


def write_two_donor_sheet(folder):
    """The two Granja donors as a study of two samples, each with its cell annotation."""
    return write_sample_sheet(folder, [(donor, GRANJA_DONORS / donor, GRANJA_DONORS / donor / "cells.tsv.gz")
                                       for donor in DONORS])


def snakemake_command(workdir, *arguments, configfiles=(), base_config=TEST_CONFIG, sheet=None):
    """The command running the workflow in `workdir` on its samples.tsv (or `sheet`), with `base_config` plus
    `configfiles`."""
    return [*SNAKEMAKE, "-s", str(ROOT / "Snakefile"), "--directory", str(workdir), "--cores", "2",
            "--configfile", str(base_config), *map(str, configfiles),
            "--config", f"samples={sheet or Path(workdir) / 'samples.tsv'}", *arguments]


def run_snakemake(workdir, *arguments, configfiles=(), check=True, base_config=TEST_CONFIG, sheet=None):
    """Run the workflow in `workdir` with the test config plus `configfiles`; returns the CompletedProcess."""
    command = snakemake_command(workdir, *arguments, configfiles=configfiles, base_config=base_config, sheet=sheet)
    result = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "PYTHONHASHSEED": "0"})
    if check and result.returncode != 0:
        raise AssertionError(f"snakemake failed ({result.returncode}):\n{result.stdout[-4000:]}\n{result.stderr[-6000:]}")
    return result


@pytest.fixture(scope="session")
def workflow_run(tmp_path_factory):
    """The real workflow, end to end through snakemake, on a study of two samples: 1,000 real Granja cells of two
    donors."""
    workdir = tmp_path_factory.mktemp("workflow")
    write_two_donor_sheet(workdir)
    run_snakemake(workdir)
    return workdir


@pytest.fixture
def signac_copy(tmp_path):
    """A writable copy of the Signac 100-cell mtx folder, for corrupting."""
    target = tmp_path / "signac"
    shutil.copytree(SIGNAC, target)
    return target
