"""The house rules of docs/design.md, checked against the real imports of every module (ast, lazy
imports inside functions included): which stage may import which, and nothing imports the CLI."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "tether"

EVERYWHERE = {"errors", "defaults", "_version"}  # leaves that any module may import
STAGES = ("store", "tasks", "engines", "sampling", "ingest", "grading", "metrics", "compare", "diagnostics",
          "likelihood", "report", "scale", "lab", "experiment", "integrations", "cli")
MAY_IMPORT = {  # beyond its own folder and EVERYWHERE; docs/design.md draws the same picture
    "metrics": set(),  # pure functions, no I/O
    "http": set(),
    "progress": set(),
    "testing": set(),
    "store": {"testing"},  # Parquet, Arrow and paths: no engines, verifiers or metrics
    "tasks": set(),
    "engines": {"tasks", "http"},  # nothing of grading
    "lab": {"tasks", "progress"},  # a leaf: its task family lives in tasks/, its verifier in grading/
    "ingest": {"store"},
    "sampling": {"store", "tasks", "engines", "testing"},  # never scale: an executor is passed in
    "grading": {"store", "tasks", "http", "testing"},  # no engines (the judge talks through http), no scale
    "compare": {"store", "metrics", "ingest", "tasks"},  # ingest: counts from files; tasks: a benchmark's domain
    "diagnostics": {"store", "tasks", "engines", "metrics", "progress"},
    "likelihood": {"store", "engines", "metrics", "progress", "compare", "diagnostics"},  # diagnostics: sampling_engine
    "report": {"store", "metrics", "compare", "likelihood", "diagnostics"},  # the saved results it shows
    "scale": set(),  # runs any worker class handed to it
    "experiment": set(STAGES) - {"experiment", "cli"} | {"progress", "http"},  # wires the stages together
    "integrations": set(STAGES) - {"integrations", "cli"} | {"progress", "http"},  # tether inside other tools
    "cli": set(STAGES) | {"progress", "http", "testing"},
    "__main__": {"cli"},
    **{leaf: set() for leaf in EVERYWHERE},
}


def _part(module: str) -> str | None:
    """The stage (or root module) a dotted tether module belongs to; None for the package itself."""
    parts = module.split(".")
    return parts[1] if parts[0] == "tether" and len(parts) > 1 else None


def _module_of(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every tether import in a file, relative ones resolved."""
    package = _module_of(path) if path.name == "__init__.py" else _module_of(path).rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            names = [f"{module}.{alias.name}" for alias in node.names] if module == "tether" else [module]
            found += [(node.lineno, name) for name in names]
    return [(line, name) for line, name in found if name == "tether" or name.startswith("tether.")]


def breaches() -> list[str]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        where = _part(_module_of(path))
        if where is None:  # tether/__init__.py: the public facade, lazy by name
            continue
        allowed = MAY_IMPORT[where] | EVERYWHERE | {where}
        for line, module in _imports(path):
            target = _part(module)
            if target is not None and target not in allowed:
                found.append(f"{path.relative_to(PACKAGE.parents[1])}:{line}: {where} imports {module} "
                             f"({where} may import {', '.join(sorted(MAY_IMPORT[where])) or 'only leaves'})")
    return found


def test_every_module_keeps_the_import_rules():
    assert breaches() == []


def test_every_part_of_the_package_has_a_rule():
    parts = {_part(_module_of(p)) for p in PACKAGE.rglob("*.py")} - {None}
    assert parts <= set(MAY_IMPORT), parts - set(MAY_IMPORT)
    assert set(STAGES) <= parts  # one folder per stage


def test_the_root_holds_only_leaves_and_the_facade():
    loose = sorted(p.stem for p in PACKAGE.glob("*.py"))
    assert loose == ["__init__", "__main__", "_version", "defaults", "errors", "http", "progress", "testing"]


@pytest.mark.parametrize("source, message", [
    ("from tether.engines import make_engine\n", "grading imports tether.engines"),
    ("def f():\n    from tether.scale import RayExecutor\n", "grading imports tether.scale"),
    ("from ..cli import app\n", "grading imports tether.cli"),
])
def test_a_breach_is_named_with_its_line(tmp_path, monkeypatch, source, message):
    """The checker itself: a lazy or relative import that breaks a rule is found, with file and line."""
    import shutil

    copy = tmp_path / "src" / "tether"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    (copy / "grading" / "rogue.py").write_text('"""A module that breaks the rules."""\n\n' + source)
    monkeypatch.setattr(__import__(__name__, fromlist=["PACKAGE"]), "PACKAGE", copy)
    found = breaches()
    assert len(found) == 1 and message in found[0] and found[0].startswith("src/tether/grading/rogue.py:")
