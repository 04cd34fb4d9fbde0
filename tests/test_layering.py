"""The house's import rules, checked on every module's imports (see docs/architecture.md):

- `dsl/` is the front end and never imports `runtime/`;
- inside `runtime/`, a lower layer never imports a higher one
  (core < io < backends < analysis < report < commands < cli);
- only `runtime/commands/*` and `cli.py` import click;
- no module imports another module's `_private` names.
"""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LAYERS = ["core", "io", "backends", "analysis", "report", "commands"]
RANK = {name: i for i, name in enumerate(LAYERS)}
RANK_CLI = len(LAYERS)


def modules():
    for top in ("dsl", "runtime"):
        for p in sorted((ROOT / top).rglob("*.py")):
            yield p
    yield ROOT / "cli.py"


def dotted(p: Path) -> str:
    rel = p.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports(p: Path):
    """(line, imported module, [names]) of every import in the file, relative ones resolved."""
    tree = ast.parse(p.read_text(encoding="utf-8"), str(p))
    here = dotted(p).split(".")
    pkg = here if p.name == "__init__.py" else here[:-1]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                yield node.lineno, a.name, []
        elif isinstance(node, ast.ImportFrom):
            mod = node.module or ""
            if node.level:
                base = pkg[: len(pkg) - (node.level - 1)]
                mod = ".".join(base + ([mod] if mod else []))
            yield node.lineno, mod, [a.name for a in node.names]


def rank(module: str) -> int | None:
    """The layer of a module name (None: not a layered runtime module)."""
    parts = module.split(".")
    if parts[0] == "cli":
        return RANK_CLI
    if parts[0] == "runtime" and len(parts) > 1 and parts[1] in RANK:
        return RANK[parts[1]]
    return None


def is_module(module: str) -> bool:
    """Whether `module` names one of the project's modules (or packages)."""
    parts = module.split(".")
    p = ROOT.joinpath(*parts)
    return p.with_suffix(".py").exists() or (p / "__init__.py").exists()


def private_attributes(p: Path):
    """(line, module, name) for every `mod._name` where `mod` is a project module imported here."""
    tree = ast.parse(p.read_text(encoding="utf-8"), str(p))
    bound: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name.split(".")[0] in ("runtime", "dsl") and a.asname:
                    bound[a.asname] = a.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] in ("runtime", "dsl"):
            for a in node.names:
                if is_module(f"{node.module}.{a.name}"):
                    bound[a.asname or a.name] = f"{node.module}.{a.name}"
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in bound \
                and node.attr.startswith("_") and not node.attr.startswith("__"):
            yield node.lineno, bound[node.value.id], node.attr


def violations():
    out = []
    for p in modules():
        me = dotted(p)
        rel = p.relative_to(ROOT)
        my_rank = rank(me)
        for line, mod, names in imports(p):
            top = mod.split(".")[0]
            where = f"{rel}:{line}"
            if me.startswith("dsl") and top == "runtime":
                out.append(f"{where}: dsl imports {mod} (the front end never imports runtime/)")
            if top == "click" and not (me.startswith("runtime.commands.") or me == "cli"):
                out.append(f"{where}: imports click (only runtime/commands/ and cli.py may)")
            r = rank(mod)
            if my_rank is not None and r is not None and r > my_rank:
                out.append(f"{where}: {me} imports {mod}, a higher layer")
            for name in names:
                if name.startswith("_") and not name.startswith("__") and top in ("runtime", "dsl", "cli") \
                        and not is_module(f"{mod}.{name}"):
                    out.append(f"{where}: imports the private name {name} from {mod}")
        for line, mod, name in private_attributes(p):
            if mod != me:
                out.append(f"{rel}:{line}: uses the private name {name} of {mod}")
    return out


def test_the_walk_sees_imports():
    # the checker itself: it finds this project's modules and their imports (a test that cannot fail
    # is a defect: an empty walk would pass everything)
    mods = {dotted(p) for p in modules()}
    assert "runtime.backends.closure" in mods and "dsl.parser" in mods and "cli" in mods
    seen = {mod for p in modules() for _l, mod, _n in imports(p)}
    assert "dsl.nodes" in seen and "click" in seen


def test_the_layers_are_in_the_houses_order():
    assert rank("runtime.core.kernel") < rank("runtime.io.readers") < rank("runtime.backends.sql")
    assert rank("runtime.backends.sql") < rank("runtime.analysis.diff") < rank("runtime.report.text") \
        < rank("runtime.commands.score") < rank("cli")


def test_a_private_attribute_of_another_module_is_seen(tmp_path):
    bad = ROOT / "runtime" / "core" / "zz_layering_probe.py"
    bad.write_text("from runtime.io import readers\nx = readers._rows\n", encoding="utf-8")
    try:
        assert [(m, n) for _l, m, n in private_attributes(bad)] == [("runtime.io.readers", "_rows")]
        assert any("zz_layering_probe.py" in v and "higher layer" in v for v in violations())
    finally:
        bad.unlink()


def test_no_import_against_the_direction():
    bad = violations()
    assert not bad, "imports against the house's rules:\n" + "\n".join(bad)
