"""The library files a rule's script runs: the transitive closure of its `atacflow` imports, read from the source
(nothing is imported), with the `__init__.py` of every package on the way. Rules declare these files as inputs,
so editing a module reruns exactly the rules whose scripts import it, directly or through other modules."""

import ast
from functools import lru_cache
from pathlib import Path

PACKAGE = "atacflow"


def library_files(script, library):
    """Sorted paths of the files of package `atacflow` (rooted at folder `library`) that `script` imports."""
    library = Path(library)
    found, pending = set(), set(_imported_modules(Path(script), None, library))
    while pending:
        path = pending.pop()
        if path in found:
            continue
        found.add(path)
        pending |= _imported_modules(path, path.relative_to(library).parent.parts, library)
    return sorted(map(str, found))


@lru_cache(maxsize=None)
def _imported_modules(path, package_parts, library):
    """Files of the modules (and their packages' __init__.py) that one source file imports; each file is parsed
    once per process (the Snakefile asks for every rule's closure)."""
    targets = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name.split(".") for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(node, package_parts)
            names = [base + [alias.name] for alias in node.names] if base is not None else []
        else:
            continue
        for parts in names:
            if parts and parts[0] == PACKAGE:
                targets |= _files_of(parts[1:], library)
    return frozenset(targets)


def _absolute(node, package_parts):
    """The module parts (starting with 'atacflow') that a `from ... import` statement reads from."""
    module = node.module.split(".") if node.module else []
    if node.level == 0:
        return module
    if package_parts is None:
        return None
    parent = list(package_parts)[: len(package_parts) - (node.level - 1)]
    return [PACKAGE, *parent, *module]


def _files_of(parts, library):
    """`from a.b import c`: the __init__.py of every package on the way, and c's file when c is a module."""
    files, folder = {library / "__init__.py"}, library
    for part in parts:
        if (folder / part).is_dir():
            folder = folder / part
            files.add(folder / "__init__.py")
        elif (folder / f"{part}.py").is_file():
            files.add(folder / f"{part}.py")
            break
        else:
            break
    return {file for file in files if file.is_file()}
