rule differential_accessibility:
    input:
        clusters="results/study/leiden.h5ad",
        weights="results/study/model/weights.pt",
        description="results/study/model/model.json",
        lib=lib("differential_accessibility"),
    output:
        tables=report(
            directory("results/study/da"),
            patterns=["{name}.tsv"],
            caption="../../report/da_table.rst",
            category="4. Differential accessibility",
            labels={"comparison": "{name}"},
        ),
        combined=report(
            "results/study/da_combined.tsv",
            caption="../../report/da_combined.rst",
            category="4. Differential accessibility",
            labels={"comparison": "all (combined)"},
        ),
    log:
        "results/study/logs/differential_accessibility.log",
    benchmark:
        "results/study/benchmarks/differential_accessibility.tsv"
    priority: 10
    conda:
        "../../envs/atacflow.yaml"
    threads: threads_beside_umap
    resources:
        mem_mb=8000,
        runtime=120,
        gpu=1,
    params:
        da=model_da_settings(),
        device=config["device"],
        seed=config["seed"],
    script:
        "../../scripts/differential_accessibility.py"
