"""The API process never loads a service: nothing it imports, directly or through other adpipe
modules, and no module it hands to a sandboxed child by name, is under `adpipe.services`.

Read from the source with `ast` (not by importing), so an import inside a function counts as
much as one at the top of a module.
"""

from __future__ import annotations

import ast
import importlib.util
import pkgutil
from pathlib import Path

import adpipe.api

SERVICES = "adpipe.services"


def _names_in(module: str, path: Path) -> set[str]:
    """Every module a file imports (relative imports resolved, `from m import x` counted as both
    `m` and `m.x`), and every string literal that names an adpipe module (sandbox targets)."""
    tree = ast.parse(path.read_text(), str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = parts[: len(parts) - node.level + 1]
                source = ".".join([*base, node.module] if node.module else base)
            else:
                source = node.module or ""
            names.add(source)
            names.update(f"{source}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            if node.value.startswith("adpipe.") and node.value.replace(".", "").isidentifier():
                names.add(node.value)
    return names


def _source_of(module: str) -> Path | None:
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):  # `from package import name` where name is no module
        return None
    if spec is None or spec.origin is None or not spec.origin.endswith(".py"):
        return None
    return Path(spec.origin)


def api_import_graph() -> dict[str, str]:
    """Each adpipe module the API reaches, with the module that first reached it."""
    roots = [
        "adpipe.api",
        *(f"adpipe.api.{m.name}" for m in pkgutil.iter_modules(adpipe.api.__path__)),
    ]
    reached: dict[str, str] = {}
    todo = [(root, "") for root in roots]
    while todo:
        module, via = todo.pop()
        if module in reached or not (module == "adpipe" or module.startswith("adpipe.")):
            continue
        if module == SERVICES or module.startswith(f"{SERVICES}."):
            reached[module] = via  # recorded, never followed: one is already too many
            continue
        path = _source_of(module)
        if path is None:
            continue
        reached[module] = via
        todo += [(name, module) for name in _names_in(module, path)]
    return reached


def test_the_api_reaches_no_service_module() -> None:
    reached = api_import_graph()
    services = {m: via for m, via in reached.items() if m.startswith(SERVICES)}

    assert services == {}, f"the API reaches services (module <- importer): {services}"
    # The walk really followed the API's imports into the rest of adpipe.
    assert {"adpipe.api.webhooks", "adpipe.webhooks.manage", "adpipe.storage.eventstore"} <= set(
        reached
    )


def test_the_walk_finds_a_service_import_hidden_in_a_function(tmp_path: Path) -> None:
    """The check itself can fail: a lazy import and a sandbox target by name are both seen."""
    source = tmp_path / "handler.py"
    source.write_text(
        "def handle():\n"
        "    from adpipe.services.downloader import service\n"
        "    return service\n"
        "TARGET = 'adpipe.services.renderer.engine'\n"
    )

    names = _names_in("adpipe.api.handler", source)

    assert "adpipe.services.downloader" in names
    assert "adpipe.services.renderer.engine" in names
