rule train_model:
    input:
        filtered="results/study/filtered.h5ad",
        lib=lib("train_model"),
    output:
        weights="results/study/model/weights.pt",
        latent="results/study/latent.h5ad",
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
