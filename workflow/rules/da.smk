rule differential_accessibility:
    input:
        clustered="results/{sample}/clustered.h5ad",
        weights="results/{sample}/model/weights.pt",
        description="results/{sample}/model/model.json",
        lib=lib("differential_accessibility"),
    output:
        tables=report(
            directory("results/{sample}/da"),
            patterns=["{name}.tsv"],
            caption="../../report/da_table.rst",
            category="4. Differential accessibility",
            subcategory="{sample}",
            labels={"sample": "{sample}", "comparison": "{name}"},
        ),
        combined=report(
            "results/{sample}/da_combined.tsv",
            caption="../../report/da_combined.rst",
            category="4. Differential accessibility",
            subcategory="{sample}",
            labels={"sample": "{sample}", "comparison": "all (combined)"},
        ),
    log:
        "results/{sample}/logs/differential_accessibility.log",
    benchmark:
        "results/{sample}/benchmarks/differential_accessibility.tsv"
    conda:
        "../../envs/atacflow.yaml"
    threads: config["threads"]
    resources:
        mem_mb=8000,
        runtime=120,
        gpu=1,
    params:
        da=config["da"],
        device=config["device"],
        seed=config["seed"],
    script:
        "../../scripts/differential_accessibility.py"
