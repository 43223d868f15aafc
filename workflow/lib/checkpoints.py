"""Training checkpoints, so that a killed training job (a cluster's time limit, preemption, SIGKILL) resumes where
it was instead of at epoch 0, and ends with the same weights as a run never interrupted.

A checkpoint holds everything the next epoch depends on: weights, optimizer state, the random-number states
(torch's global generator, the minibatch-order generator, CUDA's when used), the early-stopping state (best loss,
best epoch, best weights, epochs without improvement) and the history so far. It carries a fingerprint of the
data, the model's hyper-parameters and the training settings: a checkpoint of another run is never resumed.
Files are written under a temporary name and renamed, and read with `torch.load(weights_only=True)`.
"""

import hashlib
import json
import logging
import os
import signal
import threading
from contextlib import contextmanager
from pathlib import Path

import torch

log = logging.getLogger(__name__)


def run_fingerprint(*parts):
    """SHA-256 of the JSON of everything that determines a training run's numbers."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


class TrainingCheckpoint:
    """A checkpoint file for one training run, written every `every` epochs (0: never)."""

    def __init__(self, path, fingerprint, every):
        self.path, self.fingerprint, self.every = Path(path), fingerprint, every

    def due(self, epoch):
        return self.every > 0 and (epoch + 1) % self.every == 0

    def load(self, device):
        """The saved state of this run, or None when there is none (or it belongs to another run)."""
        if not self.path.exists():
            return None
        try:
            state = torch.load(self.path, map_location=device, weights_only=True)
        except Exception as error:  # a damaged file is a reason to start again, not to stop
            log.warning("checkpoint %s cannot be read (%s): training starts at epoch 0", self.path, error)
            return None
        if state.get("fingerprint") != self.fingerprint:
            log.warning("checkpoint %s belongs to another run (data, model or training settings differ): "
                        "ignored, training starts at epoch 0", self.path)
            return None
        log.info("resuming from checkpoint %s after epoch %d", self.path, state["epoch"])
        return state

    def save(self, state):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(f".{self.path.name}.partial")
        torch.save({**state, "fingerprint": self.fingerprint}, temporary)
        os.replace(temporary, self.path)
        log.info("checkpoint written after epoch %d: %s", state["epoch"], self.path)

    def remove(self):
        self.path.unlink(missing_ok=True)


def random_states(generator):
    """The random-number states training depends on."""
    states = {"torch": torch.get_rng_state(), "generator": generator.get_state()}
    if torch.cuda.is_available():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def restore_random_states(states, generator):
    torch.set_rng_state(states["torch"].cpu())
    generator.set_state(states["generator"].cpu())
    if "cuda" in states:
        torch.cuda.set_rng_state_all([state.cpu() for state in states["cuda"]])


@contextmanager
def stop_requests():
    """Turn SIGTERM (what SLURM sends at a time limit or preemption) into a request the training loop honours
    after the current epoch, by writing a checkpoint and stopping; yields a function telling whether one came."""
    received = []
    if threading.current_thread() is not threading.main_thread():  # only the main thread may handle signals
        yield lambda: False
        return
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: received.append(signum))
    try:
        yield lambda: bool(received)
    finally:
        signal.signal(signal.SIGTERM, previous)
