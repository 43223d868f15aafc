from snakemake.utils import min_version

min_version("9.0")


configfile: "config/config.yaml"


report: "report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/io.smk"
include: "workflow/rules/fragments.smk"
include: "workflow/rules/merge.smk"
include: "workflow/rules/filter.smk"
include: "workflow/rules/model.smk"
include: "workflow/rules/cluster.smk"
include: "workflow/rules/da.smk"
include: "workflow/rules/conditions.smk"
include: "workflow/rules/plots.smk"


onsuccess:
    cancel_pending_timers()


onerror:
    cancel_pending_timers()


rule all:
    default_target: True
    input:
        final_outputs(),
