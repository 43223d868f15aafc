rule plot_training:
    input:
        history="results/study/qc/training_history.tsv",
        description="results/study/model/model.json",
        lib=lib("plot_training"),
    output:
        report(
            "results/study/plots/training.png",
            caption="../../report/training.rst",
            category="2. Model",
            labels={"figure": "training curves"},
        ),
    log:
        "results/study/logs/plot_training.log",
    benchmark:
        "results/study/benchmarks/plot_training.tsv"
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
        clusters="results/study/leiden.h5ad",
        umap="results/study/umap.h5ad",
        lib=lib("plot_umap"),
    output:
        report(
            "results/study/plots/umap.png",
            caption="../../report/umap.rst",
            category="3. Clusters",
            labels={"figure": "UMAP"},
        ),
    log:
        "results/study/logs/plot_umap.log",
    benchmark:
        "results/study/benchmarks/plot_umap.tsv"
    conda:
        "../../envs/atacflow.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=10,
    params:
        columns=umap_columns(),
    script:
        "../../scripts/plot_umap.py"


rule plot_da:
    input:
        clusters="results/study/leiden.h5ad",
        umap="results/study/umap.h5ad",
        combined="results/study/da_combined.tsv",
        lib=lib("plot_da"),
    output:
        dotplot=report(
            "results/study/plots/da_top_regions.png",
            caption="../../report/da_top_regions.rst",
            category="4. Differential accessibility",
            labels={"comparison": "figure: top regions"},
        ),
        umaps=report(
            "results/study/plots/umap_top_regions.png",
            caption="../../report/umap_top_regions.rst",
            category="4. Differential accessibility",
            labels={"comparison": "figure: UMAP of top regions"},
        ),
    log:
        "results/study/logs/plot_da.log",
    benchmark:
        "results/study/benchmarks/plot_da.tsv"
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


rule plot_fragment_qc:
    input:
        lengths="results/samples/{sample}/qc/fragment_lengths.tsv",
        qc="results/samples/{sample}/qc/fragments_per_cell.tsv",
        lib=lib("plot_fragment_qc"),
    output:
        report(
            "results/samples/{sample}/plots/fragment_qc.png",
            caption="../../report/fragment_qc.rst",
            category="1. Quality control",
            labels={"figure": "fragment QC", "sample": "{sample}"},
        ),
    log:
        "results/samples/{sample}/logs/plot_fragment_qc.log",
    benchmark:
        "results/samples/{sample}/benchmarks/plot_fragment_qc.tsv"
    wildcard_constraints:
        sample=one_of(FRAGMENT_SAMPLES),
    conda:
        "../../envs/atacflow.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        thresholds={
            key: config["filter"][key]
            for key in ("min_cell_unique_fragments", "min_cell_frip")
        },
    script:
        "../../scripts/plot_fragment_qc.py"
