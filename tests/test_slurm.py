"""The small test workflow through a real SLURM scheduler with profiles/slurm: same results as a local run.

Needs a running SLURM cluster that this machine can submit to: `.ci/start_slurm.sh` (as root) installs
and starts a single-node one. When SLURM is not usable the test fails with the reason if the
environment variable CI is set, and is skipped with the reason otherwise.

The run differs from `snakemake --profile profiles/slurm` only where a single test node requires it:
  * GPU requests are overridden (gpu=0, no gpu_model): a node without GPUs refuses `sbatch --gpus=1`;
  * cluster-specific keys of the profile (partition, account, ...) are dropped, mem_mb is capped at the
    node's memory, and `--slurm-no-account` is set;
  * `--slurm-status-command squeue`: without slurmdbd, `sacct` answers nothing and Snakemake would wait
    forever; squeue needs MinJobAge (slurm.conf) well above the plugin's status-check interval;
  * a short first status check, no retries and a short latency-wait, so that the test is quick and
    failures show at once; successful jobs' SLURM logs are kept as evidence that the jobs went through sbatch.

A command-line --set-resources / --default-resources replaces the profile's whole list, so the
profile's per-rule resources are read here and passed again with the overrides applied.
"""

import functools
import importlib.util
import os
import re
import shutil
import signal
import subprocess
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import DA_TEXT_COLUMNS, ROOT, SNAKEMAKE, TEST_CONFIG, write_two_donor_sheet

pytestmark = pytest.mark.slurm

PROFILE = ROOT / "profiles" / "slurm"
GPU_RULES = ("train_model", "differential_accessibility")
# Keys that name things on a particular cluster: they cannot work on the test cluster.
CLUSTER_KEYS = {"slurm_partition", "slurm_account", "gpu_model", "slurm_extra", "constraint", "qos",
                "cluster", "clusters", "slurm_cluster", "nodes"}
INIT_SECONDS = 2
# The plugin polls at most every 180 s; a job that vanished from squeue before that is waited for forever.
MIN_JOB_AGE = 300
TIMEOUT = int(os.environ.get("ATACFLOW_SLURM_TEST_TIMEOUT", "1500"))
IN_CI = os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")
HINT = "start a single-node cluster with `sudo .ci/start_slurm.sh` (Debian/Ubuntu)"


def _run(command, timeout=30):
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as error:
        return 1, str(error)
    return result.returncode, (result.stdout + result.stderr).strip()


def slurm_config():
    code, out = _run(["scontrol", "show", "config"])
    return dict(re.findall(r"^(\w+)\s*=\s*(.*?)\s*$", out, flags=re.M)) if code == 0 else {}


def node_limits():
    """(CPUs, memory in MB) of the largest usable node, from sinfo."""
    code, out = _run(["sinfo", "-h", "-N", "-o", "%c %m %T"])
    usable = [(int(c), int(re.sub(r"\D", "", m) or 0)) for c, m, state in (line.split()[:3] for line in out.splitlines())
              if re.match(r"(idle|mixed|allocated|completing)", state)] if code == 0 else []
    return max(usable, default=None)


@functools.lru_cache(maxsize=None)
def slurm_problem():
    """Why this machine cannot run the test through SLURM, or None (checked once per session)."""
    if importlib.util.find_spec("snakemake_executor_plugin_slurm") is None:
        return "snakemake-executor-plugin-slurm is not installed (pip install -r requirements-dev.txt)"
    missing = [cmd for cmd in ("sbatch", "squeue", "scontrol", "sinfo", "scancel") if shutil.which(cmd) is None]
    if missing:
        return f"SLURM commands not found: {', '.join(missing)}; {HINT}"
    conf = Path(os.environ.get("SLURM_CONF", "/etc/slurm/slurm.conf"))
    # Without a slurm.conf the SLURM commands retry for a minute before they give up.
    conf_note = "" if conf.is_file() else f" (there is no {conf})"
    code, out = _run(["scontrol", "ping"], timeout=15)
    if code != 0 or "is UP" not in out:
        return f"slurmctld does not answer{conf_note}: `scontrol ping`: {out or code}; {HINT}"
    limits = node_limits()
    if limits is None:
        _, nodes = _run(["sinfo", "-N", "-l"])
        _, reasons = _run(["sinfo", "-R"])
        return f"no SLURM node is up:\n{nodes}\n{reasons}\n{HINT}"
    threads = yaml.safe_load(TEST_CONFIG.read_text()).get("threads", 1)
    if limits[0] < threads:
        return f"the largest SLURM node has {limits[0]} CPUs, the test config asks for threads={threads}"
    min_job_age = slurm_config().get("MinJobAge", "")
    seconds = int(re.match(r"\d+", min_job_age).group()) if re.match(r"\d+", min_job_age) else None
    if seconds is None or seconds < MIN_JOB_AGE:
        return (f"MinJobAge={min_job_age or 'unknown'} in slurm.conf: finished jobs leave squeue too soon for "
                f"--slurm-status-command squeue (needs >= {MIN_JOB_AGE} s; .ci/start_slurm.sh sets 900)")
    return None


def require_slurm():
    """Fail (in CI) or skip (elsewhere) with the reason when SLURM is unusable."""
    problem = slurm_problem()
    if problem:
        if IN_CI:
            pytest.fail(f"SLURM is required in CI (CI={os.environ['CI']}) but unusable: {problem}", pytrace=False)
        pytest.skip(f"SLURM unavailable: {problem}")


def _value(value):
    """A resource value as the profile parser writes it on the command line."""
    if isinstance(value, str):
        for kind in (int, float):
            try:
                kind(value)
                return repr(value)
            except ValueError:
                pass
    return value


def resource_arguments(max_mem_mb):
    """--default-resources and --set-resources of profiles/slurm, made to fit the test node."""
    profile = yaml.safe_load((PROFILE / "config.yaml").read_text())
    defaults = {k: v for k, v in (profile.get("default-resources") or {}).items() if k not in CLUSTER_KEYS}
    per_rule = {rule: {k: v for k, v in (res or {}).items() if k not in CLUSTER_KEYS}
                for rule, res in (profile.get("set-resources") or {}).items()}
    for rule in GPU_RULES:
        per_rule.setdefault(rule, {})["gpu"] = 0
    for res in [defaults, *per_rule.values()]:
        if "gpu" in res:
            res["gpu"] = 0
        if isinstance(res.get("mem_mb"), int):
            res["mem_mb"] = min(res["mem_mb"], max_mem_mb)
    arguments = []
    if defaults:
        arguments += ["--default-resources", *(f"{k}={_value(v)}" for k, v in defaults.items())]
    arguments += ["--set-resources", *(f"{rule}:{k}={_value(v)}" for rule, res in per_rule.items()
                                       for k, v in res.items())]
    return arguments


def run_through_slurm(workdir):
    """snakemake --profile profiles/slurm on the test config in workdir; returns (exit code, log text)."""
    _, max_mem_mb = node_limits()
    command = [*SNAKEMAKE, "-s", str(ROOT / "Snakefile"), "--directory", str(workdir),
               "--profile", str(PROFILE),
               "--configfile", str(TEST_CONFIG), "--config", f"samples={workdir / 'samples.tsv'}",
               *resource_arguments(max_mem_mb),
               "--slurm-status-command", "squeue",
               "--slurm-init-seconds-before-status-checks", str(INIT_SECONDS),
               "--slurm-no-account", "--slurm-keep-successful-logs",
               "--slurm-logdir", str(workdir / ".snakemake" / "slurm_logs"),
               "--retries", "0", "--latency-wait", "10"]
    log_path = workdir / "snakemake_slurm.log"
    with open(log_path, "w") as log:
        log.write(" ".join(command) + "\n")
        log.flush()
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=workdir,
                                   env={**os.environ, "PYTHONHASHSEED": "0"})
        try:
            code = process.wait(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGINT)  # Snakemake cancels its SLURM jobs on SIGINT/SIGTERM
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            code = None
    text = log_path.read_text()
    if code is None:
        for run_id in re.findall(r"SLURM run ID: (\S+)", text):
            _run(["scancel", "--name", run_id])
        raise AssertionError(f"snakemake through SLURM did not finish within {TIMEOUT} s; "
                             f"squeue:\n{_run(['squeue', '--states=all'])[1]}\nlog tail:\n{text[-6000:]}")
    return code, text


def job_stats(text):
    """Rule -> count from the first 'Job stats' table of a Snakemake log."""
    table = text.split("Job stats:", 1)[1].split("total", 1)[0]
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\w+)\s+(\d+)\s*$", table, flags=re.M)}


def slurm_history(job_ids):
    """SLURM job id -> (state, job name, comment) from squeue, else from the job completion log."""
    history = {}
    code, out = _run(["squeue", "--states=all", "-h", "-o", "%i|%T|%j|%k", "-j", ",".join(job_ids)])
    if code == 0:
        for line in out.splitlines():
            job_id, state, name, comment = (line.split("|") + ["", "", ""])[:4]
            history[job_id.strip()] = (state.strip(), name.strip(), comment.strip())
    jobcomp = slurm_config().get("JobCompLoc", "")
    if set(job_ids) - set(history) and jobcomp.startswith("/") and Path(jobcomp).is_file():
        for line in Path(jobcomp).read_text().splitlines():
            fields = dict(re.findall(r"(\w+)=(\S*)", line))
            if fields.get("JobId") in job_ids and fields["JobId"] not in history:
                history[fields["JobId"]] = (fields.get("JobState", ""), fields.get("Name", ""), "")
    return history


@pytest.fixture(scope="module")
def slurm_run(tmp_path_factory):
    """The SLURM run; tests call require_slurm() before they ask for it, so that they fail, not error."""
    workdir = tmp_path_factory.mktemp("slurm_workflow")
    write_two_donor_sheet(workdir)
    code, text = run_through_slurm(workdir)
    assert code == 0, f"snakemake through SLURM failed ({code}); log tail:\n{text[-8000:]}"
    return workdir, text


def test_every_job_went_through_sbatch(request):
    require_slurm()
    workdir, text = request.getfixturevalue("slurm_run")
    run_ids = re.findall(r"SLURM run ID: (\S+)", text)
    assert len(run_ids) == 1, f"no (single) SLURM run ID in the log:\n{text[-4000:]}"
    submitted = re.findall(r"Job \d+ has been submitted with SLURM jobid (\d+) \(log: (.+?)\)\.", text)
    rules = {}
    for job_id, log in submitted:
        match = re.search(r"/rule_(\w+)/", log)
        assert match, f"unexpected SLURM log path {log}"
        rules.setdefault(match.group(1), []).append(job_id)
        assert Path(log).is_file() and Path(log).stat().st_size > 0, f"SLURM log {log} is missing or empty"
        assert Path(log).is_relative_to(workdir / ".snakemake" / "slurm_logs"), log
    expected = {rule: n for rule, n in job_stats(text).items() if rule != "all"}
    assert {rule: len(ids) for rule, ids in rules.items()} == expected, "jobs not submitted to SLURM"
    assert re.search(r"^localrule all:", text, flags=re.M)
    assert not re.search(r"^localrule (?!all:)", text, flags=re.M), "a rule ran locally instead of through SLURM"

    job_ids = [job_id for job_id, _ in submitted]
    history = slurm_history(job_ids)
    assert set(history) == set(job_ids), f"SLURM does not know jobs {sorted(set(job_ids) - set(history))}"
    for rule, ids in rules.items():
        for job_id in ids:
            state, name, comment = history[job_id]
            assert state == "COMPLETED", f"SLURM job {job_id} ({rule}) is {state}"
            assert name == run_ids[0], f"SLURM job {job_id} is named {name}, not the run ID {run_ids[0]}"
            if comment:
                assert comment.startswith(f"rule_{rule}"), f"SLURM job {job_id}: comment {comment}, rule {rule}"


def test_gpu_rules_were_submitted_without_gpu_requests(request):
    require_slurm()
    _, text = request.getfixturevalue("slurm_run")
    for rule in GPU_RULES:
        block = re.search(rf"^rule {rule}:\n(.*?)^Job \d+ has been submitted", text, flags=re.M | re.S)
        assert block, f"rule {rule} was not submitted"
        assert re.search(r"resources: .*\bgpu=0\b", block.group(1)), block.group(1)


def test_results_equal_a_local_run(request):
    require_slurm()
    workdir, _ = request.getfixturevalue("slurm_run")
    workflow_run = request.getfixturevalue("workflow_run")
    slurm, local = workdir / "results" / "study", workflow_run / "results" / "study"

    da_slurm = pd.read_csv(slurm / "da_combined.tsv", sep="\t", dtype=DA_TEXT_COLUMNS)
    da_local = pd.read_csv(local / "da_combined.tsv", sep="\t", dtype=DA_TEXT_COLUMNS)
    assert len(da_local) > 0
    # the local run's DA has 1 thread at --cores 2 (beside the UMAP layout), SLURM's job the config's 2: the thread
    # count changes float32 summation order, which moves fold changes in their last written digit, nothing else;
    # regions tied in proba_da are ordered by lfc_mean, so such a digit can swap two tied rows: compared by region
    da_slurm, da_local = (table.sort_values(["comparison", "region"], ignore_index=True)
                          for table in (da_slurm, da_local))
    calls = ["region", "comparison", "proba_da", "proba_not_da", "bayes_factor", "is_da_fdr_0.05", "scale1",
             "emp_effect"]
    pd.testing.assert_frame_equal(da_slurm[calls], da_local[calls], check_exact=False, rtol=1e-6, atol=1e-6)
    pd.testing.assert_frame_equal(da_slurm, da_local, check_exact=False, rtol=1e-6, atol=1e-5)

    clustered_slurm, clustered_local = ad.read_h5ad(slurm / "clustered.h5ad"), ad.read_h5ad(local / "clustered.h5ad")
    assert list(clustered_slurm.obs_names) == list(clustered_local.obs_names)
    pd.testing.assert_series_equal(clustered_slurm.obs["leiden"], clustered_local.obs["leiden"])

    latent_slurm, latent_local = ad.read_h5ad(slurm / "latent.h5ad"), ad.read_h5ad(local / "latent.h5ad")
    assert list(latent_slurm.obs_names) == list(latent_local.obs_names)
    np.testing.assert_allclose(latent_slurm.obsm["X_poissonvi"], latent_local.obsm["X_poissonvi"], rtol=0, atol=1e-6)
