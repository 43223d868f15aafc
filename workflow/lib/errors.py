"""One exception type for bad input, and the wrappers scripts use to report it without a traceback and to end their
job's process."""

import logging
import os
import sys
import threading
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
    Nothing is lost: every output is written and closed before the step returns (most under a temporary name,
    then renamed: steps/files.atomic_path), and no atexit handler of ours has work left. A process that still has
    a child process (joblib's workers, kept for reuse after PyDESeq2's fits) or a non-daemon thread ends the usual
    way, whose teardown stops or joins them."""
    run_step(function, log_path)
    if _has_children() or _has_other_threads():
        return
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def _has_children():
    """Whether this process has a child process, running or ended but not yet waited for (none is reaped here).
    True where the system cannot tell (os.waitid is missing: Windows, and macOS before Python 3.13)."""
    if not hasattr(os, "waitid"):
        return True
    try:
        os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:
        return False
    return True


def _has_other_threads():
    """Whether a non-daemon thread besides the main one is alive (the usual exit would wait for it)."""
    return any(thread is not threading.main_thread() and not thread.daemon and thread.is_alive()
               for thread in threading.enumerate())
