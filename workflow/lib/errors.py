"""One exception type for bad input, and the wrappers scripts use to report it without a traceback and to end their
job's process."""

import logging
import os
import sys
from pathlib import Path


class InputError(Exception):
    """Bad input: the message names the file or field, what was found and what was expected."""


class StepInterrupted(Exception):
    """The step was asked to stop (SIGTERM) and saved what a rerun needs to resume."""


def setup_logging(log_path=None):
    """Send log records to the rule's log file (when given) and to stderr."""
    handlers = [logging.StreamHandler(sys.stderr)]
    if log_path:
        Path(log_path).parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(log_path, mode="w"))
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        handlers=handlers,
        force=True,
    )


def run_step(function, log_path=None):
    """Run one workflow step; an InputError or an interruption ends it with its message alone and exit status 1."""
    setup_logging(log_path)
    try:
        function()
    except (InputError, StepInterrupted) as error:
        logging.getLogger("atacflow").error("%s", error)
        sys.exit(1)


def run_job(function, log_path):
    """run_step in a Snakemake job's own process, which ends as soon as the step has succeeded: the log and the
    standard streams flushed, then os._exit(0). That skips the interpreter's teardown, in which every module's
    objects are freed one by one and which the next job on the chain waits for: 0.12 s for a process that imported
    anndata, 0.38 s for torch and anndata, 0.42 s with matplotlib too (benchmarks/bench_process_exit.py).
    Nothing is lost: every output is written under a temporary name, closed and renamed before the step returns
    (steps/files.atomic_path), and no atexit handler of ours has work left. A process with child processes still
    running (joblib's workers, kept for reuse after PyDESeq2's fits) ends the usual way, whose teardown stops them."""
    run_step(function, log_path)
    if os.name != "posix" or _has_running_children():
        return
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def _has_running_children():
    """Whether a child process of this one still runs (children that have ended are reaped on the way)."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:  # no children at all
            return False
        if pid == 0:
            return True
