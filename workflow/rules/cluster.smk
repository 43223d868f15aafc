rule cluster:
    input:
        latent="results/{sample}/latent.h5ad",
        lib=lib("clustering"),
    output:
        "results/{sample}/clustered.h5ad",
    params:
        cluster=config["cluster"],
        seed=config["seed"],
    log:
        "results/{sample}/logs/cluster.log",
    benchmark:
        "results/{sample}/benchmarks/cluster.tsv"
    threads: config["threads"]
    resources:
        mem_mb=8000,
        runtime=60,
    script:
        "../../scripts/cluster.py"
