rule condition_da:
    input:
        clusters="results/study/leiden.h5ad",
        lib=lib("condition_da"),
    output:
        tables=report(
            directory("results/study/conditions"),
            patterns=["{name}.tsv"],
            caption="../../report/condition_table.rst",
            category="5. Conditions (samples as replicates)",
            labels={"comparison": "{name}"},
        ),
        combined=report(
            "results/study/conditions_combined.tsv",
            caption="../../report/condition_table.rst",
            category="5. Conditions (samples as replicates)",
            labels={"comparison": "all (combined)"},
        ),
        volcanoes=report(
            expand("results/study/plots/volcano_{name}.png", name=CONDITION_NAMES),
            caption="../../report/volcano.rst",
            category="5. Conditions (samples as replicates)",
            labels={"comparison": "volcano plots"},
        ),
    log:
        "results/study/logs/condition_da.log",
    benchmark:
        "results/study/benchmarks/condition_da.tsv"
    conda:
        "../../envs/atacflow.yaml"
    threads: config["threads"]
    resources:
        mem_mb=8000,
        runtime=120,
    params:
        conditions=config["da"]["conditions"],
        pseudobulk=config["da"]["pseudobulk"],
    script:
        "../../scripts/condition_da.py"
