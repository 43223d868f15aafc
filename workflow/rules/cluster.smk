rule cluster:
    input:
        latent="results/{sample}/latent.h5ad",
        lib=lib("cluster"),
    output:
        "results/{sample}/clustered.h5ad",
    log:
        "results/{sample}/logs/cluster.log",
    benchmark:
        "results/{sample}/benchmarks/cluster.tsv"
    conda:
        "../../envs/atacflow.yaml"
    threads: config["threads"]
    resources:
        mem_mb=8000,
        runtime=60,
    params:
        cluster=config["cluster"],
        seed=config["seed"],
    script:
        "../../scripts/cluster.py"
