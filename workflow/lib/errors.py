"""One exception type for bad input, and the wrapper scripts use to report it without a traceback."""

import logging
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
