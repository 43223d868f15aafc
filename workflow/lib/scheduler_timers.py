"""Snakemake's job-rate limiter (`--max-jobs-per-timespan`, 100/1s unless set) starts a threading.Timer of one
timespan after every scheduling pass, to wake the scheduler again. These timers are not daemon threads, and Python
joins every non-daemon thread before a process exits, so once the last job has finished the Snakemake process
still waits for the last timer to fire: about 1 s of every run (benchmarks/workflow_timeline.py). Once the
workflow is done, nothing waits for them, and cancelling them lets the process end at once."""

import threading


def cancel_pending_timers():
    """Cancel every threading.Timer of this process that has not fired yet; return how many were cancelled."""
    pending = [thread for thread in threading.enumerate() if isinstance(thread, threading.Timer) and thread.is_alive()]
    for timer in pending:
        timer.cancel()
    return len(pending)
