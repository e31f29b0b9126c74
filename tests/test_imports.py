"""The package is layered: its import graph (imports inside functions included) has no cycle, and every import made
inside a function is of a heavy optional dependency and says so in a comment."""
from __future__ import annotations

import ast
from pathlib import Path

PKG = Path(__file__).resolve().parent.parent / 'hephaestus'
# Dependencies imported where they are used, not at module level: slow to import and needed only by some calls.
HEAVY = {'matplotlib', 'sklearn', 'scipy', 'pytorch_grad_cam', 'pytorch_msssim', 'h5py', 'PIL', 'torch.distributed',
         'torch.nn.parallel', 'IPython', 'ipywidgets'}


def module_name(path: Path) -> str:
    rel = path.relative_to(PKG.parent).with_suffix('')
    parts = list(rel.parts)
    return '.'.join(parts[:-1] if parts[-1] == '__init__' else parts)


def imports_of(path: Path) -> list[tuple[str, ast.stmt, bool]]:
    "(imported module, statement, inside a function) of every import in a file, relative imports resolved."
    tree = ast.parse(path.read_text())
    mod = module_name(path)
    package = mod if path.name == '__init__.py' else mod.rpartition('.')[0]
    out = []

    def visit(node, in_function: bool):
        for child in ast.iter_child_nodes(node):
            inside = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            if isinstance(child, ast.Import):
                out.extend((a.name, child, in_function) for a in child.names)
            elif isinstance(child, ast.ImportFrom):
                if child.level:
                    base = package.split('.')
                    base = base[:len(base) - child.level + 1]
                    name = '.'.join(base + ([child.module] if child.module else []))
                else:
                    name = child.module or ''
                out.append((name, child, in_function))
                if child.module is None or child.level and not child.module:   # `from . import x`: x may be a module
                    out.extend((f"{name}.{a.name}", child, in_function) for a in child.names)
            visit(child, inside)
    visit(tree, False)
    return out


def graph() -> dict[str, set[str]]:
    "Module -> the package modules it imports."
    files = sorted(PKG.rglob('*.py'))
    mods = {module_name(p) for p in files}
    g = {}
    for p in files:
        deps = set()
        for name, _, _ in imports_of(p):
            while name and name not in mods:
                name = name.rpartition('.')[0]      # `hephaestus.ranking.rank_group` -> hephaestus.ranking
            if name and name != module_name(p) and name != 'hephaestus':
                deps.add(name)
        g[module_name(p)] = deps
    return g


def find_cycle(g: dict[str, set[str]]) -> list[str] | None:
    "One cycle of the graph as [a, b, ..., a], or None."
    state, stack = {}, []

    def dfs(u):
        state[u] = 1
        stack.append(u)
        for v in sorted(g.get(u, ())):
            if state.get(v) == 1:
                return stack[stack.index(v):] + [v]
            if v not in state:
                c = dfs(v)
                if c:
                    return c
        state[u] = 2
        stack.pop()
        return None
    for u in sorted(g):
        if u not in state:
            c = dfs(u)
            if c:
                return c
    return None


def test_find_cycle_finds_one():
    assert find_cycle({'a': {'b'}, 'b': {'c'}, 'c': {'a'}}) == ['a', 'b', 'c', 'a']
    assert find_cycle({'a': {'b'}, 'b': {'c'}, 'c': set()}) is None


def test_import_graph_is_a_dag():
    g = graph()
    assert {'hephaestus.model', 'hephaestus.ranking', 'hephaestus.evaluation.ranking'} <= set(g)
    cycle = find_cycle(g)
    assert cycle is None, 'the package imports in a circle: ' + ' -> '.join(cycle)


def test_lazy_imports_are_heavy_and_say_so():
    bad = []
    for p in sorted(PKG.rglob('*.py')):
        lines = p.read_text().splitlines()
        for name, stmt, inside in imports_of(p):
            if not inside:
                continue
            heavy = any(name == h or name.startswith(h + '.') for h in HEAVY)
            commented = '#' in lines[stmt.lineno - 1]
            if not heavy or not commented:
                bad.append(f"{p.relative_to(PKG.parent)}:{stmt.lineno}: {lines[stmt.lineno - 1].strip()}")
    assert not bad, ('imports inside functions must be of a heavy optional dependency, with a comment saying so:\n'
                     + '\n'.join(sorted(set(bad))))
