"""errors.run_job, the wrapper every rule's script calls: a succeeded step ends its process at once (no interpreter
teardown, so no atexit handler runs) with its log and output complete, unless it left a child process or a
non-daemon thread behind (then the process ends the usual way, which stops or joins them); a failed step exits 1
with its message alone."""

import os
import subprocess
import sys

SCRIPT = """
import atexit, logging, sys
from pathlib import Path
from atacflow.errors import InputError, run_job

folder = Path(sys.argv[1])
atexit.register(lambda: (folder / "teardown_ran").write_text("yes"))

def step():
    logging.getLogger("atacflow").info("step done: %d cells", 42)
    print("on stdout", end="")  # no newline: left in the buffer unless flushed
    if sys.argv[2] == "fail":
        raise InputError("counts.mtx: found 3 columns, expected 2")
    if sys.argv[2] == "child":  # a worker left running, as joblib keeps its workers for reuse
        import subprocess
        worker = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        atexit.register(worker.kill)
    if sys.argv[2] == "thread":  # a non-daemon thread still writing
        import threading, time
        threading.Thread(target=lambda: (time.sleep(0.5), (folder / "late.txt").write_text("done"))).start()
    (folder / "out.tsv").write_text("a\\tb\\n")

run_job(step, folder / "step.log")
"""


def _run(tmp_path, outcome):
    buffered = {name: value for name, value in os.environ.items() if name != "PYTHONUNBUFFERED"}
    return subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path), outcome], capture_output=True, text=True,
                          timeout=120, env=buffered)


def test_a_succeeded_step_ends_its_process_without_teardown_and_loses_nothing(tmp_path):
    completed = _run(tmp_path, "succeed")
    assert completed.returncode == 0, completed.stderr
    assert (tmp_path / "out.tsv").read_text() == "a\tb\n"
    assert "step done: 42 cells" in (tmp_path / "step.log").read_text()
    assert completed.stdout == "on stdout"
    assert not (tmp_path / "teardown_ran").exists()


def test_a_step_that_left_a_child_process_running_ends_the_usual_way(tmp_path):
    completed = _run(tmp_path, "child")
    assert completed.returncode == 0, completed.stderr
    assert (tmp_path / "out.tsv").read_text() == "a\tb\n"
    assert (tmp_path / "teardown_ran").exists()


def test_a_step_that_left_a_thread_running_ends_when_the_thread_has_ended(tmp_path):
    completed = _run(tmp_path, "thread")
    assert completed.returncode == 0, completed.stderr
    assert (tmp_path / "late.txt").read_text() == "done"
    assert (tmp_path / "teardown_ran").exists()


def test_a_failed_step_exits_1_with_its_message_and_no_output(tmp_path):
    completed = _run(tmp_path, "fail")
    assert completed.returncode == 1
    log = (tmp_path / "step.log").read_text()
    assert "ERROR atacflow: counts.mtx: found 3 columns, expected 2" in log and "Traceback" not in log
    assert not (tmp_path / "out.tsv").exists()
