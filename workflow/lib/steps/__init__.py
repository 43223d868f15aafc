"""One module per workflow rule: read the rule's files, call the library, write the rule's outputs.

Each module imports only what its rule needs, and each rule declares only the library files its script imports
(`workflow/rules/common.smk`), so editing one stage's code reruns that stage and what follows it.
"""
