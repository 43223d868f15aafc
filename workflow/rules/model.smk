rule train_model:
    input:
        filtered="results/{sample}/filtered.h5ad",
        lib=lib("train_model"),
    output:
        weights="results/{sample}/model/weights.pt",
        description="results/{sample}/model/model.json",
        history=report(
            "results/{sample}/qc/training_history.tsv",
            caption="../../report/training_history.rst",
            category="2. Model",
            labels={"sample": "{sample}", "table": "training history"},
        ),
    log:
        "results/{sample}/logs/train_model.log",
    benchmark:
        "results/{sample}/benchmarks/train_model.tsv"
    conda:
        "../../envs/atacflow.yaml"
    threads: config["threads"]
    resources:
        mem_mb=8000,
        runtime=240,
        gpu=1,
    params:
        model=config["model"],
        train=config["train"],
        device=config["device"],
        seed=config["seed"],
        checkpoint=training_checkpoint,
    script:
        "../../scripts/train_model.py"


rule latent:
    input:
        filtered="results/{sample}/filtered.h5ad",
        weights="results/{sample}/model/weights.pt",
        description="results/{sample}/model/model.json",
        lib=lib("latent"),
    output:
        "results/{sample}/latent.h5ad",
    log:
        "results/{sample}/logs/latent.log",
    benchmark:
        "results/{sample}/benchmarks/latent.tsv"
    conda:
        "../../envs/atacflow.yaml"
    threads: config["threads"]
    resources:
        mem_mb=8000,
        runtime=60,
    params:
        device=config["device"],
    script:
        "../../scripts/latent.py"
