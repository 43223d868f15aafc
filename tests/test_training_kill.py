"""A real training job killed mid-way (SIGTERM, as SLURM sends at a time limit, and SIGKILL) resumes from its
checkpoint on the rerun and ends with weights identical to a run never interrupted."""

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pandas as pd
import pytest
import torch

from conftest import GRANJA_1K, UNANNOTATED, run_snakemake, snakemake_command, write_sample_sheet

SAMPLE = "cells"
STUDY = "study"
# long enough to be killed mid-way: no early stop, a checkpoint every 5 epochs
KILL_CONFIG = """train:
  max_epochs: 80
  early_stopping_patience: 80
  checkpoint_every_epochs: 5
"""


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    """The reference: the same training run to its end without interruption; its weights and history."""
    workdir = tmp_path_factory.mktemp("kill")
    write_sample_sheet(workdir, [(SAMPLE, GRANJA_1K, "")])
    (workdir / "kill.yaml").write_text(KILL_CONFIG)
    run_snakemake(workdir, "--until", "train_model", configfiles=[UNANNOTATED, workdir / "kill.yaml"])
    model = workdir / "results" / STUDY / "model"
    reference = workdir / "reference"
    shutil.copytree(model, reference)
    shutil.copy(workdir / "results" / STUDY / "qc" / "training_history.tsv", reference)
    assert not (workdir / "results" / STUDY / "checkpoints" / "train_model.pt").exists()
    return workdir, reference


def _training_process(workdir):
    """The pid of the job running the train_model script of this workdir (Snakemake runs a copy of the script
    from .snakemake/scripts)."""
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            arguments = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue
        if any(str(workdir).encode() in a and a.endswith(b"train_model.py") for a in arguments):
            return int(cmdline.parent.name)
    return None


def _kill_training_after_a_checkpoint(workdir, signal_number):
    """Start the training job, wait for its first checkpoint, send it `signal_number`; the run must fail."""
    checkpoint = workdir / "results" / STUDY / "checkpoints" / "train_model.pt"
    command = snakemake_command(workdir, "--until", "train_model", "--forcerun", "train_model",
                                configfiles=[UNANNOTATED, workdir / "kill.yaml"])
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               env={**os.environ, "PYTHONHASHSEED": "0"})
    deadline = time.monotonic() + 300
    while not checkpoint.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    pid = _training_process(workdir)
    assert pid is not None and checkpoint.exists(), "the training job ended or wrote no checkpoint in time"
    os.kill(pid, signal_number)
    output, _ = process.communicate(timeout=300)
    assert process.returncode != 0, output[-3000:]
    return checkpoint


@pytest.mark.parametrize("signal_number", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_a_killed_training_job_resumes_to_identical_weights(uninterrupted, signal_number):
    workdir, reference = uninterrupted
    results = workdir / "results" / STUDY
    checkpoint = _kill_training_after_a_checkpoint(workdir, signal_number)
    assert checkpoint.exists() and not (results / "model" / "weights.pt").exists()
    saved_epoch = torch.load(checkpoint, weights_only=True)["epoch"]
    assert 4 <= saved_epoch < 79
    if signal_number == signal.SIGTERM:  # the job saved its state after the epoch it was in, and said so
        log = (results / "logs" / "train_model.log").read_text()
        assert f"training stopped by SIGTERM after epoch {saved_epoch}" in log and "Traceback" not in log

    run_snakemake(workdir, "--until", "train_model", configfiles=[UNANNOTATED, workdir / "kill.yaml"])
    log = (results / "logs" / "train_model.log").read_text()
    assert f"resuming from checkpoint results/{STUDY}/checkpoints/train_model.pt after epoch {saved_epoch}" in log
    assert f"epoch {saved_epoch}:" not in log and f"epoch {saved_epoch + 1}:" in log  # no epoch trained twice
    resumed = torch.load(results / "model" / "weights.pt", weights_only=True)
    expected = torch.load(reference / "weights.pt", weights_only=True)
    assert resumed.keys() == expected.keys()
    assert all(torch.equal(resumed[name], expected[name]) for name in expected)
    history = pd.read_csv(results / "qc" / "training_history.tsv", sep="\t").drop(columns="seconds")
    pd.testing.assert_frame_equal(history, pd.read_csv(reference / "training_history.tsv", sep="\t").drop(columns="seconds"))
    assert not checkpoint.exists()  # removed once the outputs are written
