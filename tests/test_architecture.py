"""The layout's rules, checked on the source (docs/architecture.md):

- dependencies point one way: app_pages -> ui -> unlearn_core -> toy_data;
- no import circle between the project's modules;
- no import of a project module hidden inside a function (the usual way to dodge a circle);
- no private name (``_x``) imported from another project module;
- nothing below the pages imports Streamlit; only ``ui/views`` and ``unlearn_core/bench/plots.py`` draw (Plotly);
- the library (everything in unlearn_core except the CLI package) never imports the CLI.
"""
from __future__ import annotations

import ast
import functools
import pathlib
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
PACKAGES = ("app_pages", "ui", "unlearn_core", "toy_data")
LAYER = {"app_pages": 3, "ui": 2, "unlearn_core": 1, "toy_data": 0}


def module_name(path: pathlib.Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def project_files():
    files = [ROOT / "app.py"]
    for pkg in PACKAGES:
        files += sorted((ROOT / pkg).rglob("*.py"))
    return files


MODULES = {module_name(f): f for f in project_files()}


def resolve(node: ast.ImportFrom, here: str, is_pkg: bool) -> str:
    if not node.level:
        return node.module or ""
    base = here.split(".")
    base = base if is_pkg else base[:-1]
    base = base[:len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def imports_of(name: str):
    """(target module, imported names, inside a function?) for every import in a module."""
    return parsed_imports(name, MODULES[name])


@functools.lru_cache(maxsize=None)
def parsed_imports(name: str, path: pathlib.Path):
    tree = ast.parse(path.read_text())
    out = []

    def visit(node, in_func):
        for child in ast.iter_child_nodes(node):
            func = in_func or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            if isinstance(child, ast.Import):
                for a in child.names:
                    out.append((a.name, [], in_func))
            elif isinstance(child, ast.ImportFrom):
                target = resolve(child, name, path.name == "__init__.py")
                for a in child.names:  # "from pkg import module" imports the module
                    sub = f"{target}.{a.name}"
                    out.append((sub, [], in_func) if sub in MODULES else (target, [a.name], in_func))
            visit(child, func)

    visit(tree, False)
    return out


def project_target(target: str) -> str | None:
    while target and target not in MODULES:
        target = target.rpartition(".")[0]
    return target or None


def test_layers_point_one_way():
    bad = []
    for name in MODULES:
        top = name.split(".")[0]
        for target, _, _ in imports_of(name):
            dep = project_target(target)
            if dep is None or top not in LAYER:
                continue
            if LAYER[dep.split(".")[0]] > LAYER[top]:
                bad.append(f"{name} imports {dep}")
    assert not bad, "imports against the layers (app_pages -> ui -> unlearn_core -> toy_data):\n" + "\n".join(bad)


def test_no_import_circle():
    graph = {name: {project_target(t) for t, _, _ in imports_of(name)} - {None, name} for name in MODULES}
    # a package's __init__ importing its own submodules is how packages re-export; a submodule
    # importing a sibling through the package name resolves to that sibling, so leave packages out
    packages = {n for n, f in MODULES.items() if f.name == "__init__.py"}
    graph = {n: {d for d in deps if d not in packages} for n, deps in graph.items() if n not in packages}
    state, stack, cycles = {}, [], []

    def dfs(n):
        state[n] = 1
        stack.append(n)
        for d in sorted(graph.get(n, ())):
            if state.get(d) == 1:
                cycles.append(stack[stack.index(d):] + [d])
            elif d not in state:
                dfs(d)
        stack.pop()
        state[n] = 2

    for n in sorted(graph):
        if n not in state:
            dfs(n)
    assert not cycles, "import circles:\n" + "\n".join(" -> ".join(c) for c in cycles)


def test_no_project_import_hidden_in_a_function():
    hidden = [f"{name} imports {t} inside a function" for name in MODULES for t, _, inside in imports_of(name)
              if inside and project_target(t)]
    assert not hidden, "\n".join(hidden)


def test_no_private_name_imported_across_modules():
    bad = [f"{name} imports {t}.{n}" for name in MODULES for t, names, _ in imports_of(name)
           if project_target(t) for n in names if n.startswith("_") and not n.startswith("__")]
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("lib, allowed", [("streamlit", ("app", "app_pages")),
                                          ("plotly", ("app_pages", "ui.views", "unlearn_core.bench.plots"))])
def test_who_may_import_streamlit_and_plotly(lib, allowed):
    bad = [name for name in MODULES for t, _, _ in imports_of(name)
           if t.split(".")[0] == lib and not any(name == a or name.startswith(a + ".") for a in allowed)]
    assert not bad, f"{lib} imported outside {allowed}: {sorted(set(bad))}"


def test_the_library_never_imports_the_cli():
    bad = [f"{name} imports {t}" for name in MODULES
           if name.startswith("unlearn_core") and not name.startswith(("unlearn_core.bench", "unlearn_core.pretrain"))
           for t, _, _ in imports_of(name) if (project_target(t) or "").startswith("unlearn_core.bench")]
    assert not bad, "\n".join(bad)


def test_the_checker_sees_a_circle_and_a_hidden_import(tmp_path, monkeypatch):
    """The rules above would catch what they are meant to (the checker itself is tested)."""
    pkg = tmp_path / "unlearn_core"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from unlearn_core.b import f\n")
    (pkg / "b.py").write_text("def f():\n    from unlearn_core.a import g\n    from unlearn_core.c import _h\n")
    (pkg / "c.py").write_text("import streamlit\n")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    fake = {module_name(f): f for f in sorted(pkg.rglob("*.py"))}
    monkeypatch.setattr(sys.modules[__name__], "MODULES", fake)
    with pytest.raises(AssertionError, match="unlearn_core.a -> unlearn_core.b -> unlearn_core.a"):
        test_no_import_circle()
    with pytest.raises(AssertionError, match="unlearn_core.b imports unlearn_core.a inside a function"):
        test_no_project_import_hidden_in_a_function()
    with pytest.raises(AssertionError, match="unlearn_core.b imports unlearn_core.c._h"):
        test_no_private_name_imported_across_modules()
    with pytest.raises(AssertionError, match="streamlit imported outside"):
        test_who_may_import_streamlit_and_plotly("streamlit", ("app", "app_pages"))
