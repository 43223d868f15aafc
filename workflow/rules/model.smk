rule train_model:
    input:
        filtered="results/study/filtered.h5ad",
        lib=lib("train_model"),
    output:
        weights="results/study/model/weights.pt",
        description="results/study/model/model.json",
        history=report(
            "results/study/qc/training_history.tsv",
            caption="../../report/training_history.rst",
            category="2. Model",
            labels={"table": "training history"},
        ),
    log:
        "results/study/logs/train_model.log",
    benchmark:
        "results/study/benchmarks/train_model.tsv"
    conda:
        "../../envs/atacflow.yaml"
    threads: config["threads"]
    resources:
        mem_mb=8000,
        runtime=240,
        gpu=1,
    params:
        model=config["model"],
        train=training_settings(),
        device=config["device"],
        seed=config["seed"],
        checkpoint="results/study/checkpoints/train_model.pt",
    script:
        "../../scripts/train_model.py"


rule latent:
    input:
        filtered="results/study/filtered.h5ad",
        weights="results/study/model/weights.pt",
        description="results/study/model/model.json",
        lib=lib("latent"),
    output:
        "results/study/latent.h5ad",
    log:
        "results/study/logs/latent.log",
    benchmark:
        "results/study/benchmarks/latent.tsv"
    # latent -> cluster -> DA is the longest chain after training: run it first, the figures beside it
    priority: 10
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
