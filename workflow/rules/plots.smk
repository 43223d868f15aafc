rule plot_training:
    input:
        history="results/{sample}/qc/training_history.tsv",
        description="results/{sample}/model/model.json",
        lib=lib("plot_training"),
    output:
        report(
            "results/{sample}/plots/training.png",
            caption="../../report/training.rst",
            category="2. Model",
            labels={"sample": "{sample}", "figure": "training curves"},
        ),
    log:
        "results/{sample}/logs/plot_training.log",
    benchmark:
        "results/{sample}/benchmarks/plot_training.tsv"
    conda:
        "../../envs/atacflow.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    script:
        "../../scripts/plot_training.py"


rule plot_umap:
    input:
        clustered="results/{sample}/clustered.h5ad",
        lib=lib("plot_umap"),
    output:
        report(
            "results/{sample}/plots/umap.png",
            caption="../../report/umap.rst",
            category="3. Clusters",
            labels={"sample": "{sample}", "figure": "UMAP"},
        ),
    log:
        "results/{sample}/logs/plot_umap.log",
    benchmark:
        "results/{sample}/benchmarks/plot_umap.tsv"
    conda:
        "../../envs/atacflow.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=10,
    params:
        columns=config["plots"]["umap_columns"],
    script:
        "../../scripts/plot_umap.py"


rule plot_da:
    input:
        clustered="results/{sample}/clustered.h5ad",
        combined="results/{sample}/da_combined.tsv",
        lib=lib("plot_da"),
    output:
        dotplot=report(
            "results/{sample}/plots/da_top_regions.png",
            caption="../../report/da_top_regions.rst",
            category="4. Differential accessibility",
            subcategory="{sample}",
            labels={"sample": "{sample}", "comparison": "figure: top regions"},
        ),
        umaps=report(
            "results/{sample}/plots/umap_top_regions.png",
            caption="../../report/umap_top_regions.rst",
            category="4. Differential accessibility",
            subcategory="{sample}",
            labels={"sample": "{sample}", "comparison": "figure: UMAP of top regions"},
        ),
    log:
        "results/{sample}/logs/plot_da.log",
    benchmark:
        "results/{sample}/benchmarks/plot_da.tsv"
    conda:
        "../../envs/atacflow.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=10,
    params:
        n_top_regions=config["plots"]["n_top_regions"],
    script:
        "../../scripts/plot_da.py"
