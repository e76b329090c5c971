"""The import layering of the package, read from the source (every import, module level or inside a function):
nothing imports upward into training, and training and evaluation do not import each other."""
from __future__ import annotations

import ast
from pathlib import Path

import edgekit

PACKAGE = Path(edgekit.__file__).parent


def imports_of(path: Path) -> set[str]:
    """Every absolute module name ``path`` imports (``from a.b import c`` gives a.b and a.b.c)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            assert node.level == 0, f"{path}: relative import"
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def module_imports() -> dict[str, set[str]]:
    """{'edgekit.train.loop': {imported names}, ...} for every module of the package."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = imports_of(path)
    return found


def within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def offenders(importer: str, imported: str) -> list[str]:
    return sorted(f"{module} imports {name}" for module, names in module_imports().items()
                  if within(module, importer) for name in names if within(name, imported))


def test_train_and_eval_do_not_import_each_other():
    assert offenders("edgekit.train", "edgekit.eval") == []
    assert offenders("edgekit.eval", "edgekit.train") == []


def test_only_the_cli_imports_training():
    """Weights I/O (edgekit.models.weights / load), recipes (edgekit.recipe) and dataset selection
    (edgekit.data.selection) live below train/: backends, export, eval and the models never import it."""
    users = {module.split(".")[1] for module, names in module_imports().items() if not within(module, "edgekit.train")
             and any(within(name, "edgekit.train") for name in names)}
    assert users <= {"cli"}, offenders("edgekit", "edgekit.train")


def test_the_layering_check_sees_function_level_imports():
    imports = module_imports()
    assert "edgekit.registry.create_model" in imports["edgekit.models.weights"]  # imported inside build_model
    assert any(within(name, "edgekit.train.loop") for name in imports["edgekit.cli.train_verb"])
