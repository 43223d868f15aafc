"""How long a Python process takes to end once its work is done: the interpreter's teardown, which every workflow job
paid before Snakemake saw it end (errors.run_job now skips it with os._exit).

For each set of imports (what a job of that kind imports), a fresh interpreter imports them, registers an atexit
handler that writes the time, and ends; a second, bare interpreter started right after writes the time at its
start. The teardown is the difference, less a bare interpreter's own start (measured the same way after a process
that imports nothing). Median of --rounds rounds, the import sets alternating.

Usage: .venv-bench/bin/python benchmarks/bench_process_exit.py [--rounds 5] [--python .venv/bin/python]
"""

import argparse
import statistics
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import pandas as pd  # noqa: E402

from bench_common import REPO, machine_description, print_table  # noqa: E402

IMPORTS = {
    "nothing": "",
    "anndata (read, fragments, merge, filter)": "import anndata",
    "torch": "import torch",
    "torch + anndata (train, DA)": "import torch, anndata",
    "torch + anndata + matplotlib (all of them)": "import torch, anndata, matplotlib.pyplot",
}
ENDING = "import atexit, sys, time\n{imports}\natexit.register(lambda: sys.stdout.write(repr(time.time())))\n"
STARTING = "import time; print(repr(time.time()))"


def seconds_to_next_start(python, imports):
    """From the atexit handler of a process that imported `imports` to the first line of the next interpreter."""
    ended = float(subprocess.run([python, "-c", ENDING.format(imports=imports)], capture_output=True, text=True,
                                 check=True).stdout)
    started = float(subprocess.run([python, "-c", STARTING], capture_output=True, text=True, check=True).stdout)
    return started - ended


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--python", default=str(REPO / ".venv" / "bin" / "python"))
    args = parser.parse_args()
    print(machine_description(), flush=True)
    times = {name: [] for name in IMPORTS}
    for _ in range(args.rounds):
        for name, imports in IMPORTS.items():
            times[name].append(seconds_to_next_start(args.python, imports))
    start = statistics.median(times["nothing"])
    table = pd.DataFrame([{"imports": name, "end to next start, s": statistics.median(values),
                           "teardown, s": statistics.median(values) - start} for name, values in times.items()])
    print_table(f"interpreter teardown, median of {args.rounds} rounds", table.set_index("imports").round(3))


if __name__ == "__main__":
    main()
