"""The conda environment names the same packages as the pip requirements; lint and format are clean."""

import re
import subprocess
import sys

import yaml

from conftest import ROOT

CONDA_NAMES = {"pytorch": "torch", "python-igraph": "igraph"}


def _name(requirement):
    return re.split(r"[<>=!~ \[]", requirement.strip(), maxsplit=1)[0].lower()


def test_conda_environment_matches_requirements():
    requirements = {
        _name(line) for line in (ROOT / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    environment = yaml.safe_load((ROOT / "envs" / "atacflow.yaml").read_text())
    conda = {CONDA_NAMES.get(_name(d), _name(d)) for d in environment["dependencies"] if isinstance(d, str)}
    assert conda - {"python"} == requirements


def test_every_rule_uses_the_environment_and_has_log_and_benchmark():
    for path in (ROOT / "workflow" / "rules").glob("*.smk"):
        text = path.read_text()
        for rule in re.split(r"\nrule ", "\n" + text)[1:]:
            for directive in ("log:", "benchmark:", "conda:", "threads:", "resources:"):
                assert f"    {directive}" in rule, f"{path.name}: rule {rule.split(':')[0]} lacks {directive}"


def test_the_slurm_profile_sets_every_rules_resources_as_the_rule_does():
    """profiles/slurm lists every rule (a command-line --set-resources replaces the whole list, so a rule missing
    from it would be easy to miss), with the memory and time the rule itself asks for."""
    profile = yaml.safe_load((ROOT / "profiles" / "slurm" / "config.yaml").read_text())["set-resources"]
    rules = {}
    for path in (ROOT / "workflow" / "rules").glob("*.smk"):
        for rule in re.split(r"\nrule ", "\n" + path.read_text())[1:]:
            resources = dict(re.findall(r"^        (mem_mb|runtime)=(\d+),$", rule, flags=re.MULTILINE))
            rules[rule.split(":")[0]] = {key: int(value) for key, value in resources.items()}
    assert set(profile) == set(rules)
    for rule, resources in rules.items():
        assert {key: profile[rule][key] for key in resources} == resources, rule


def test_snakemake_lint_and_snakefmt_are_clean():
    lint = subprocess.run([sys.executable, "-m", "snakemake", "--lint"], cwd=ROOT, capture_output=True, text=True)
    assert lint.returncode == 0 and "Lints for" not in lint.stdout + lint.stderr, lint.stdout + lint.stderr
    fmt = subprocess.run([sys.executable, "-m", "snakefmt", "--check", "."], cwd=ROOT, capture_output=True, text=True)
    assert fmt.returncode == 0, fmt.stdout + fmt.stderr
