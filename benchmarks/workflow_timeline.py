"""Where the wall time of `snakemake --cores 2` on the Granja matrix goes: every Python process of the run (Snakemake
itself and each job's script) with the moment it started and ended, read from a sitecustomize module put on the
PYTHONPATH of the run, which stamps the time when the interpreter has set itself up and again at exit (atexit, or
os._exit for a job's script).

The gaps between one job's end and the next job's start on the chain (read -> fragments -> merge -> filter -> train
-> neighbors -> umap beside cluster and DA -> figures and clustered) are Snakemake's scheduling and the next
interpreter's own start (~20 ms before the first stamp); a job's seconds include its imports. The same workflow copy and sheet as bench_workflow.py (the
committed config as it is). Round 0 of a fresh virtualenv includes umap-learn's numba compilation, once per
machine; the table printed is the last round's.

Usage: .venv-bench/bin/python benchmarks/workflow_timeline.py [MTX_FOLDER] [--rounds 2]
           [--snakemake .venv/bin/snakemake] [--scheduler ilp|greedy] (Snakemake's job selector; its default: ilp)
Writes benchmarks/out/workflow_timeline.tsv (the last round).
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import pandas as pd  # noqa: E402

from bench_common import DEFAULT_DATA, OUT, REPO, machine_description, print_table  # noqa: E402
from bench_workflow import SAMPLE, WORK, copy_workflow  # noqa: E402

STAMPS = WORK / "timeline_stamps"
SITE = WORK / "timeline_site"
STAMPING_MODULE = f'''import atexit, os, sys, time
_started, _pid = time.time(), os.getpid()
def _stamp():
    if os.getpid() != _pid:  # a forked child ending with os._exit: not a process of its own to stamp
        return
    with open(os.path.join({str(STAMPS)!r}, f"{{os.getpid()}}.tsv"), "w") as out:
        out.write(f"{{_started}}\\t{{time.time()}}\\t{{' '.join(sys.argv)}}\\n")
atexit.register(_stamp)
_exit = os._exit
def _stamped_exit(status):  # a job's script ends with os._exit (errors.run_job), which runs no atexit handler
    _stamp()
    _exit(status)
os._exit = _stamped_exit
'''


def process_name(command):
    """The rule of a job's script (Snakemake runs .snakemake/scripts/tmpXXXX.<script>.py) or `snakemake`."""
    script = re.search(r"tmp\w+\.(\w+)\.py", command)
    return script.group(1) if script else "snakemake" if "snakemake" in command else command[:60]


def run_once(folder, data, snakemake, scheduler=None):
    """Wall seconds of one run and one row per Python process (started, ended: seconds since the run began)."""
    shutil.rmtree(folder / "results", ignore_errors=True)
    shutil.rmtree(folder / ".snakemake", ignore_errors=True)
    shutil.rmtree(STAMPS, ignore_errors=True)
    STAMPS.mkdir(parents=True)
    sheet = WORK / "samples.tsv"
    sheet.write_text(f"sample\tpath\n{SAMPLE}\t{data}\n")
    environment = {**os.environ, "PYTHONPATH": str(SITE)}
    began = time.time()
    command = [snakemake, "--cores", "2", "--config", f"samples={sheet}"]
    completed = subprocess.run(command + (["--scheduler", scheduler] if scheduler else []), cwd=folder,
                               env=environment, capture_output=True, text=True)
    wall = time.time() - began
    if completed.returncode:
        raise SystemExit(f"snakemake failed (exit {completed.returncode}):\n{completed.stdout[-3000:]}")
    rows = []
    for stamp in STAMPS.glob("*.tsv"):
        started, ended, command = stamp.read_text().rstrip("\n").split("\t", 2)
        rows.append({"process": process_name(command), "started": float(started) - began,
                     "ended": float(ended) - began})
    table = pd.DataFrame(rows).sort_values(["started", "process"]).reset_index(drop=True)
    table["seconds"] = table["ended"] - table["started"]
    jobs = table["process"] != "snakemake"
    latest_end = table["ended"].where(jobs).shift().cummax()
    table["idle before"] = (table["started"] - latest_end).clip(lower=0).where(jobs)
    return wall, table


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data", nargs="?", default=str(DEFAULT_DATA))
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--snakemake", default=str(REPO / ".venv" / "bin" / "snakemake"))
    parser.add_argument("--scheduler", choices=("ilp", "greedy"))
    args = parser.parse_args()
    print(machine_description(), flush=True)
    folder = WORK / "atacflow_timeline"
    copy_workflow(folder)
    SITE.mkdir(parents=True, exist_ok=True)
    (SITE / "sitecustomize.py").write_text(STAMPING_MODULE)
    for round_number in range(args.rounds):
        wall, table = run_once(folder, Path(args.data).resolve(), args.snakemake, args.scheduler)
        print(f"round {round_number}: {wall:.2f} s wall", flush=True)
    OUT.mkdir(parents=True, exist_ok=True)
    table.to_csv(OUT / "workflow_timeline.tsv", sep="\t", index=False)
    print_table(f"the last round's processes (seconds since the run began; wall {wall:.2f} s)", table.round(2))
    jobs = table[table["process"] != "snakemake"]
    main_process = table[table["process"] == "snakemake"].iloc[0]
    print(f"before the first job: {jobs['started'].min():.2f} s; after the last job: "
          f"{main_process['ended'] - jobs['ended'].max():.2f} s in Snakemake, {wall - main_process['ended']:.2f} s "
          f"to the process's end; idle between jobs on the chain: {jobs['idle before'].iloc[1:].sum():.2f} s "
          f"in {int((jobs['idle before'].iloc[1:] > 0).sum())} gaps")


if __name__ == "__main__":
    main()
