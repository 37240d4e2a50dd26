"""The package's import graph, read from the source: data flows one way, down the layers.

io → backbones → index → scoring → copies/provenance → scan → report/audit/serve →
evaluation/demo → cli. A module may import its own layer or any layer below, never one
above; only the command line imports typer or rich; the library never imports the
benchmarks. Imports inside functions and under TYPE_CHECKING count too: a lazy import
upwards is still an arrow upwards.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "simdetect"

# Lowest first. Each entry: the modules (and their sub-modules) of one layer.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("base", ("simdetect", "simdetect.errors", "simdetect.defaults", "simdetect.runtime")),
    ("io", ("simdetect.io", "simdetect.outputs")),
    ("backbones", ("simdetect.backbones", "simdetect.embed")),
    ("index", ("simdetect.index",)),
    ("scoring", ("simdetect.scoring",)),
    ("copies/provenance", ("simdetect.copies", "simdetect.provenance")),
    ("scan", ("simdetect.scan", "simdetect.distributed")),
    (
        "report/audit/serve",
        ("simdetect.report", "simdetect.audit", "simdetect.serve", "simdetect.ui"),
    ),
    ("evaluation/demo", ("simdetect.evaluation", "simdetect.demo")),
    ("cli", ("simdetect.cli", "simdetect.__main__")),
]
CLI_ONLY = ("typer", "rich")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def layer_of(module: str) -> int:
    """The layer of the longest listed prefix of `module`."""
    best, best_len = -1, -1
    for rank, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best_len:
                best, best_len = rank, len(prefix)
    assert best >= 0, f"{module} is in no layer: add it to LAYERS"
    return best


def imports_of(path: Path, module: str) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against this module's package
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            found.add(target)
            # `from simdetect import cli` imports the sub-module simdetect.cli
            found.update(f"{target}.{alias.name}" for alias in node.names)
    return found


def graph() -> dict[str, set[str]]:
    return {module_name(p): imports_of(p, module_name(p)) for p in sorted(PACKAGE.rglob("*.py"))}


def is_module(name: str) -> bool:
    rel = Path(*name.split("."))
    return (PACKAGE.parent / rel).with_suffix(".py").is_file() or (
        PACKAGE.parent / rel / "__init__.py"
    ).is_file()


def test_every_module_has_a_layer() -> None:
    for module in graph():
        layer_of(module)


def test_no_import_runs_up_the_layers() -> None:
    upward = []
    for module, imported in graph().items():
        own = layer_of(module)
        for target in imported:
            if not target.startswith("simdetect") or not is_module(target):
                continue
            if layer_of(target) > own:
                upward.append(
                    f"{module} ({LAYERS[own][0]}) imports {target} ({LAYERS[layer_of(target)][0]})"
                )
    assert not upward, "imports running up the layers:\n" + "\n".join(sorted(upward))


@pytest.mark.parametrize("library", CLI_ONLY)
def test_only_the_cli_imports_typer_and_rich(library: str) -> None:
    offenders = [
        module
        for module, imported in graph().items()
        if not module.startswith("simdetect.cli")
        and any(t == library or t.startswith(library + ".") for t in imported)
    ]
    assert not offenders, f"{library} imported outside simdetect.cli: {offenders}"


def test_the_library_never_imports_the_benchmarks() -> None:
    apps = {"simdetect.evaluation", "simdetect.demo", "simdetect.cli", "simdetect.__main__"}
    offenders = [
        f"{module} imports {target}"
        for module, imported in graph().items()
        if not any(module == a or module.startswith(a + ".") for a in apps)
        for target in imported
        if target == "simdetect.evaluation" or target.startswith("simdetect.evaluation.")
    ]
    assert not offenders, offenders


def test_the_layer_check_sees_an_upward_import(tmp_path: Path) -> None:
    """The checker itself: a planted upward import (lazy, inside a function) is caught."""
    planted = tmp_path / "simdetect" / "scoring" / "planted.py"
    planted.parent.mkdir(parents=True)
    planted.write_text("def f():\n    from simdetect.report import case\n", encoding="utf-8")
    imported = imports_of(planted, "simdetect.scoring.planted")
    assert "simdetect.report.case" in imported
    assert layer_of("simdetect.report.case") > layer_of("simdetect.scoring.planted")
