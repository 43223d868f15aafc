"""What the Snakefile's onsuccess and onerror handlers call: Snakemake's pending rate-limiter timers cancelled, so
that the process does not wait for them at exit (every workflow test runs the handlers)."""

import threading

from atacflow.scheduler_timers import cancel_pending_timers


def test_pending_timers_are_cancelled_and_their_threads_end_without_firing():
    fired = []
    timer = threading.Timer(600, fired.append, args=[1])
    timer.start()
    assert cancel_pending_timers() >= 1
    timer.join(timeout=10)
    assert not timer.is_alive() and fired == []
    assert cancel_pending_timers() == 0
