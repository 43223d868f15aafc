"""What users run, timed: `snakemake --cores 2` on the Granja matrix against SnapATAC2's and the scvi-tools
PoissonVI tutorial's pipelines as scripts, interleaved in rounds.

  atacflow   a fresh copy of this repository's workflow (Snakefile, config, workflow, scripts, report, profiles, envs)
             and `snakemake --cores 2 --config samples=SHEET`, SHEET naming the matrix folder alone (sample, path),
             the committed config as it is: matrix -> fragments -> filter -> train -> latent -> clusters + UMAP ->
             DA -> integration table -> figures. results/ and .snakemake/ are removed before every round.
  --baseline REV  the same for the workflow of an earlier commit REV (its files from `git archive`, run by the same
             snakemake), in the same rounds: what a change gained, measured beside it rather than on another day
  snapatac2  peers/snapatac2_pipeline.py: read, features, spectral, kNN, Leiden, UMAP, marker regions, a UMAP png
  scvi-tools peers/scvi_pipeline.py: the tutorial's read, reads_to_fragments, 5% filter, POISSONVI defaults,
             latent, neighbors, Leiden, UMAP, differential_accessibility per cluster, a UMAP png

Every run is a fresh process tree timed from outside (wall seconds; peak memory = the largest resident set of any
process in the tree, from GNU time's %M). A round runs atacflow (then the baseline, in the other order every other
round) then SnapATAC2; scvi-tools, ~8x slower, runs in
the middle round(s) only (--scvi-rounds). Each ratio is the median of per-round ratios (a peer's time over
atacflow's in the same round), printed with its range. After the timing, each tool's clusters are scored against
the 16 cell types (cells.tsv.gz), untimed: as run (each tool's default Leiden resolution) and with the resolution
searched to 16 clusters on the tool's own graph (bench_stages.search_resolution). atacflow's per-job times come
from Snakemake's own benchmark files (results/**/benchmarks/*.tsv) of its last round.

Usage: .venv-bench/bin/python benchmarks/bench_workflow.py [MTX_FOLDER] [--rounds 3] [--scvi-rounds 1]
       [--tools ours,snapatac2,scvi] [--baseline REV] [--snakemake .venv/bin/snakemake]
Writes benchmarks/out/workflow.tsv (runs), workflow_ratios.tsv, workflow_jobs.tsv, workflow_quality.tsv.
"""

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import pandas as pd  # noqa: E402

from bench_common import DEFAULT_DATA, OUT, REPO, machine_description, print_table  # noqa: E402

WORK = Path("/tmp/atacflow_bench_workflow")
WORKFLOW_PARTS = ("Snakefile", "config", "workflow", "scripts", "report", "profiles", "envs")
PEERS = REPO / "benchmarks" / "peers"
TOOLS = {"ours": "atacflow", "snapatac2": "snapatac2", "scvi": "scvi-tools"}
SAMPLE = "granja"


def copy_workflow(destination):
    """The repository's workflow files, tracked or new but not ignored, as in the working tree, into a fresh folder
    (symbolic links stay links)."""
    shutil.rmtree(destination, ignore_errors=True)
    tracked = subprocess.run(["git", "-C", str(REPO), "ls-files", "--cached", "--others", "--exclude-standard"], capture_output=True, text=True, check=True)
    for name in tracked.stdout.splitlines():
        if name.split("/", 1)[0] in WORKFLOW_PARTS:
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, destination / name, follow_symlinks=False)


def export_commit(revision, destination):
    """The workflow files of commit `revision` (git archive, symbolic links kept) into a fresh folder."""
    shutil.rmtree(destination, ignore_errors=True)
    destination.mkdir(parents=True)
    archive = subprocess.run(["git", "-C", str(REPO), "archive", revision, *WORKFLOW_PARTS], capture_output=True,
                             check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(destination)], input=archive, check=True)


def timed(command, cwd, log):
    """Wall seconds and peak MiB (largest process of the tree) of `command`; its output goes to `log`."""
    usage = log.with_suffix(".rss")
    started = time.perf_counter()
    with open(log, "w") as output:
        completed = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", str(usage), *command], cwd=cwd,
                                   stdout=output, stderr=subprocess.STDOUT)
    seconds = time.perf_counter() - started
    if completed.returncode:
        raise SystemExit(f"{command[0]} failed (exit {completed.returncode}); see {log}")
    return seconds, int(usage.read_text().split()[-1]) / 1024


def run_ours(data, snakemake, round_number, folder=WORK / "atacflow", label="ours"):
    shutil.rmtree(folder / "results", ignore_errors=True)
    shutil.rmtree(folder / ".snakemake", ignore_errors=True)
    sheet = WORK / "samples.tsv"
    sheet.write_text(f"sample\tpath\n{SAMPLE}\t{data}\n")
    return timed([snakemake, "--cores", "2", "--config", f"samples={sheet}"], folder,
                 OUT / f"workflow_{label}_{round_number}.log")


def run_peer(tool, data, round_number):
    script = PEERS / f"{'snapatac2' if tool == 'snapatac2' else 'scvi'}_pipeline.py"
    return timed([sys.executable, str(script), str(data), str(WORK / tool)], PEERS,
                 OUT / f"workflow_{tool}_{round_number}.log")


def clustered_files():
    return {"ours": WORK / "atacflow" / "results" / "study" / "clustered.h5ad",
            "baseline": WORK / "atacflow_baseline" / "results" / "study" / "clustered.h5ad",
            "snapatac2": WORK / "snapatac2" / "clustered.h5ad", "scvi": WORK / "scvi" / "clustered.h5ad"}


def quality(tool, path, data):
    """ARI / NMI against the cell types: as run, and with the resolution searched to 16 clusters."""
    import anndata as ad

    from bench_stages import label_scores, search_resolution

    adata = ad.read_h5ad(path)
    barcodes = adata.obs_names.str.replace(f"^{SAMPLE}#", "", regex=True)
    truth = pd.read_csv(Path(data) / "cells.tsv.gz", sep="\t", index_col=0)["cell_type"].reindex(barcodes)
    truth = truth.to_numpy()
    as_run = label_scores(adata.obs["leiden"].astype(str).to_numpy(), truth)
    clusters_as_run = adata.obs["leiden"].nunique()  # before the search, which overwrites obs["leiden"]
    if tool == "snapatac2":
        import snapatac2 as snap

        def leiden(resolution):
            return snap.tl.leiden(adata, resolution=resolution, random_state=0, inplace=False).astype(str)
    else:
        from atacflow.clustering import leiden_labels

        def leiden(resolution):
            return leiden_labels(adata, resolution).astype(str).to_numpy()
    labels, resolution, n_clusters, _ = search_resolution(leiden)
    searched = label_scores(labels, truth)
    return {"tool": TOOLS[tool], "clusters as run": clusters_as_run, "ARI as run": as_run["ARI"],
            "NMI as run": as_run["NMI"], "resolution searched": resolution, "clusters searched": n_clusters,
            "ARI searched": searched["ARI"], "NMI searched": searched["NMI"]}


def job_table():
    """atacflow's per-job wall seconds and peak MiB from Snakemake's benchmark files."""
    rows = []
    for path in sorted((WORK / "atacflow" / "results").glob("**/benchmarks/*.tsv")):
        table = pd.read_csv(path, sep="\t")
        rows.append({"job": path.stem, "s": float(table["s"].iloc[-1]), "max_rss MiB": float(table["max_rss"].iloc[-1])})
    return pd.DataFrame(rows).set_index("job").sort_values("s", ascending=False)


def ratio_table(runs):
    """Per peer (and the baseline commit): the median over rounds of (its seconds / atacflow seconds in the same
    round), with its range; the same for peak memory."""
    ours = runs[runs["tool"] == "atacflow"].set_index("round")
    rows = []
    for tool in (TOOLS["baseline"], "snapatac2", "scvi-tools"):
        peer = runs[runs["tool"] == tool].set_index("round")
        if peer.empty or ours.empty:
            continue
        for measure in ("seconds", "peak MiB"):
            ratios = (peer[measure] / ours[measure].reindex(peer.index)).dropna()
            rows.append({"ratio": f"{tool} / atacflow {measure}", "median": statistics.median(ratios),
                         "min": ratios.min(), "max": ratios.max(), "rounds": len(ratios)})
    return pd.DataFrame(rows).set_index("ratio")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data", nargs="?", default=str(DEFAULT_DATA))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--scvi-rounds", type=int, default=1, help="rounds (the middle ones) that also run scvi-tools")
    parser.add_argument("--tools", default="ours,snapatac2,scvi")
    parser.add_argument("--baseline", metavar="REV", help="also time the workflow of commit REV in every round")
    parser.add_argument("--snakemake", default=str(REPO / ".venv" / "bin" / "snakemake"))
    args = parser.parse_args()
    tools = args.tools.split(",")
    TOOLS["baseline"] = f"atacflow {args.baseline}"
    if args.baseline:
        tools.insert(tools.index("ours") + 1 if "ours" in tools else 0, "baseline")
        export_commit(args.baseline, WORK / "atacflow_baseline")
    data = Path(args.data).resolve()
    OUT.mkdir(parents=True, exist_ok=True)
    WORK.mkdir(parents=True, exist_ok=True)
    copy_workflow(WORK / "atacflow")
    print(machine_description(), flush=True)
    first_scvi = (args.rounds - args.scvi_rounds) // 2
    runs = []
    for round_number in range(args.rounds):
        ours_first = ["ours", "baseline"] if round_number % 2 == 0 else ["baseline", "ours"]
        plan = [tool for tool in (*ours_first, "snapatac2") if tool in tools]
        if "scvi" in tools and first_scvi <= round_number < first_scvi + args.scvi_rounds:
            plan.append("scvi")
        for tool in plan:
            if tool in ("ours", "baseline"):
                folder = WORK / ("atacflow" if tool == "ours" else "atacflow_baseline")
                seconds, peak = run_ours(data, args.snakemake, round_number, folder, tool)
            else:
                seconds, peak = run_peer(tool, data, round_number)
            runs.append({"round": round_number, "tool": TOOLS[tool], "seconds": seconds, "peak MiB": peak})
            print(f"[{time.strftime('%H:%M:%S')}] round {round_number} {TOOLS[tool]}: {seconds:.1f} s, "
                  f"{peak:.0f} MiB peak", flush=True)
    runs = pd.DataFrame(runs)
    runs.to_csv(OUT / "workflow.tsv", sep="\t", index=False)
    ratios = ratio_table(runs)
    ratios.to_csv(OUT / "workflow_ratios.tsv", sep="\t")
    files = clustered_files()
    scores = pd.DataFrame([quality(tool, files[tool], data) for tool in tools]).set_index("tool")
    scores.to_csv(OUT / "workflow_quality.tsv", sep="\t")
    print_table("Runs (wall seconds, peak MiB of the largest process)",
                runs.pivot(index="round", columns="tool", values=["seconds", "peak MiB"]))
    print_table("Ratios: median over rounds of peer / atacflow in the same round [min, max]", ratios)
    print_table("Clusters against the 16 cell types (untimed)", scores)
    if "ours" in tools:
        jobs = job_table()
        jobs.to_csv(OUT / "workflow_jobs.tsv", sep="\t")
        print_table(f"atacflow per job, last round (Snakemake benchmark files; sum {jobs['s'].sum():.1f} s)", jobs)
    print(machine_description())


if __name__ == "__main__":
    main()
