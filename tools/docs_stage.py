"""Stage the Sphinx sources of the docs site: nbs/*.ipynb as nbdev would show them, plus API reference stubs.

`stage(dest)` writes into `dest` (tools/build_docs.py uses _proc/docs/src):

* every notebook of nbs/ with nbdev's directives applied, the rules of tools/nbdocs.py (`doc_cells`):
  `#| hide`, `#| include: false` and `#| default_exp` cells dropped, `#| echo: false` keeps only the output
  (myst-nb's `remove-input` tag), `#| output: false` drops the output, and directive lines never show;
* saved widget outputs dropped (their state is not saved, so nothing could render them), and the dashboard
  screenshots of reports/dashboard/ shown in 09_dashboard instead;
* pictures the markdown references outside nbs/ (`../reports/...`) copied under `_repo/` and relinked;
* index.ipynb (the README) as the home page, ending in the toctree: the notebooks by file name, then the
  measured report (reports/REPORT.md, `make report`, with its figures) when there is one, then the API;
* api/index.rst and one api/<module>.rst per module of the package (autodoc; `_modidx` and private modules
  skipped), found by walking the package, so new modules show up without editing anything.

Files are only rewritten when their content changes, so Sphinx rebuilds only what changed.
"""
from __future__ import annotations

import importlib
import pkgutil
import re
import warnings
from pathlib import Path

import nbformat

from nbdocs import NBS, ROOT, doc_cells

PACKAGE = 'hephaestus'
WIDGET_MIME = 'application/vnd.jupyter.widget-view+json'
# notebook stem -> (folder of screenshots, {file name: caption}); files there without a caption get their name
SCREENSHOTS = {'09_dashboard': ('reports/dashboard', {
    'group_view.png': 'The group view in Voila: a group ranked, the outlier framed in red, the explanation and '
                      'the factor bars.',
    'latent_explorer.png': 'The latent explorer after a drag: the decoded picture, the refined one and the '
                           're-score line.',
    'bad_upload.png': 'A bad upload: the message says which file is not a picture, and the group is kept.',
    'dsprites.png': 'The dSprites model: gray pictures, its own factors and sliders.',
    'jupyterlab.png': 'The same dashboard inside JupyterLab.',
})}
_LINK_RE = re.compile(r'(!\[[^\]]*\]\()([^)\s]+)(\))|(<img\b[^>]*?\bsrc=")([^"]+)(")', re.S)


def pages(nbs: Path = NBS) -> list[Path]:
    "The notebooks of the site, in reading order: index first, then by file name."
    found = sorted(p for p in Path(nbs).glob('*.ipynb') if not p.name.startswith(('_', '.')))
    return sorted(found, key=lambda p: (p.stem != 'index', p.name))


def _write(path: Path, data: bytes | str, written: set) -> None:
    "Write `data` to `path` unless it already holds exactly that; remember it in `written`."
    data = data.encode('utf-8') if isinstance(data, str) else data
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_bytes() != data: path.write_bytes(data)
    written.add(path.resolve())


# ----------------------------------------------------------------------------- notebooks
def _relink(text: str, nbs: Path, dest: Path, written: set, root: Path = ROOT) -> str:
    "Copy the local pictures `text` references (relative to `nbs`, inside `root`) into `dest`; point the links there."
    def sub(m):
        pre, url, post = (m[1], m[2], m[3]) if m[1] else (m[4], m[5], m[6])
        if re.match(r'[a-z][\w+.-]*:|/|#', url): return m[0]
        src = (nbs / url).resolve()
        if not src.is_file(): return m[0]
        rel = src.relative_to(nbs.resolve()) if src.is_relative_to(nbs.resolve()) else None
        if rel is None:
            if not src.is_relative_to(root.resolve()): return m[0]
            rel = Path('_repo') / src.relative_to(root.resolve())
        _write(dest / rel, src.read_bytes(), written)
        return pre + rel.as_posix() + post
    return _LINK_RE.sub(sub, text)


def _add_gallery(stem: str, cells: list, widgets_at: int | None) -> None:
    """Insert the screenshots of `stem` that the notebook does not show yet, as one markdown cell: after its first
    widget output, else after the first cell that shows one of them, else at the end."""
    if stem not in SCREENSHOTS: return
    folder, captions = SCREENSHOTS[stem]
    md = [c.source if c.cell_type == 'markdown' else '' for c in cells]
    order = list(captions)
    files = sorted((ROOT / folder).glob('*.png'), key=lambda p: (order.index(p.name) if p.name in order
                                                                 else len(order), p.name))
    items = [f'![{captions.get(p.name, p.stem)}](../{folder}/{p.name})\n\n*{captions.get(p.name, p.stem)}*'
             for p in files if f'{folder}/{p.name}' not in ' '.join(md)]
    if not items: return
    at = widgets_at if widgets_at is not None else next((i for i, t in enumerate(md) if f'{folder}/' in t),
                                                        len(cells) - 1)
    cells.insert(at + 1, nbformat.v4.new_markdown_cell(
        '### Screenshots\n\nThe dashboard as the browser test (tests/test_dashboard_browser.py) sees it.\n\n'
        + '\n\n'.join(items)))


def stage_notebook(path: Path, dest: Path, written: set, toctree: str = '', root: Path = ROOT) -> Path:
    "Write the docs version of the notebook `path` to `dest`/<name>; return that file."
    with warnings.catch_warnings():   # cells without ids (saved by hand): nbformat gives them ids
        warnings.simplefilter('ignore', nbformat.warnings.MissingIDFieldWarning)
        nb = nbformat.read(path, as_version=4)
    cells, widgets_at = [], None
    for c in doc_cells(nb):
        if c.cell_type == 'code':
            if c.metadata.pop('hide_input', False): c.metadata['tags'] = ['remove-input']
            c.metadata.pop('hide_output', None)
            kept = [o for o in c.get('outputs', []) if WIDGET_MIME not in o.get('data', {})]
            if len(kept) < len(c.outputs) and widgets_at is None: widgets_at = len(cells)
            c.outputs = kept
        cells.append(c)
    nb.cells = cells
    _add_gallery(path.stem, cells, widgets_at)
    for c in cells:
        if c.cell_type == 'markdown': c.source = _relink(c.source, path.parent, dest, written, root)
        for o in c.get('outputs', []):
            if 'text/markdown' in o.get('data', {}):
                o.data['text/markdown'] = _relink(''.join(o.data['text/markdown']), path.parent, dest,
                                                 written, root)
    if toctree: cells.append(nbformat.v4.new_markdown_cell(toctree))
    out = dest / path.name
    _write(out, nbformat.writes(nb), written)
    return out


# ----------------------------------------------------------------------------- the report
REPORT = ROOT / 'reports' / 'REPORT.md'


def stage_report(dest: Path, written: set, report: Path = REPORT, root: Path = ROOT) -> bool:
    "reports/REPORT.md (`make report`) as the page `report`, its figures copied along; False when there is none."
    report = Path(report)
    if not report.is_file(): return False
    _write(dest / 'report.md', _relink(report.read_text(encoding='utf-8'), report.parent, dest, written, root),
           written)
    return True


# ----------------------------------------------------------------------------- API
def modules(package: str = PACKAGE) -> list[str]:
    "The modules of `package` to document, sorted: every module and subpackage module but `_modidx`/private ones."
    pkg = importlib.import_module(package)
    names = [m.name for m in pkgutil.walk_packages(pkg.__path__, package + '.')
             if not any(part.startswith('_') for part in m.name.split('.')) and not m.ispkg]
    return sorted(names)


def _rst_title(text: str, ch: str = '=') -> str: return f'{text}\n{ch * len(text)}\n'


def stage_api(dest: Path, written: set, package: str = PACKAGE) -> list[str]:
    "api/index.rst and api/<module>.rst for every module of `package`; return the module names."
    mods = modules(package)
    pkg = importlib.import_module(package)
    top = [f':py:obj:`~{obj.__module__}.{name}`' for name, obj in vars(pkg).items()
           if not name.startswith('_') and callable(obj) and getattr(obj, '__module__', '').startswith(package)]
    index = (_rst_title('API reference') +
             f'\nEvery exported function and class of the ``{package}`` package (its ``__all__``), module by module.'
             ' Parameters are documented nbdev-style, as a comment after each parameter.\n\n'
             + (f'The package itself re-exports {", ".join(top)}.\n\n' if top else '')
             + '.. toctree::\n   :maxdepth: 1\n\n' + ''.join(f'   {m}\n' for m in mods))
    _write(dest / 'api' / 'index.rst', index, written)
    for m in mods:
        _write(dest / 'api' / f'{m}.rst', _rst_title(m) + f'\n.. automodule:: {m}\n   :members:\n'
               '   :undoc-members:\n   :show-inheritance:\n', written)
    return mods


# ----------------------------------------------------------------------------- all
def toctree(names: list[str], api: bool = True, report: bool = False) -> str:
    "The home page's (hidden) toctree: the notebooks in order, then the report and the API reference."
    nbs = ''.join(f'{n}\n' for n in names)
    ref = ('report\n' if report else '') + ('api/index\n' if api else '')
    return (f'```{{toctree}}\n:hidden:\n:caption: Notebooks\n:maxdepth: 1\n\n{nbs}```\n'
            + (f'\n```{{toctree}}\n:hidden:\n:caption: Reference\n:maxdepth: 2\n\n{ref}```\n' if ref else ''))


def stage(dest: Path, nbs: Path = NBS, api: bool = True, root: Path = ROOT) -> list[Path]:
    "Stage the site's sources in `dest` (stale files removed); the notebooks written, in order. `root`: the repo."
    dest = Path(dest)
    files = pages(nbs)
    if not files: raise FileNotFoundError(f'no notebooks in {nbs}')
    written: set = set()
    report = stage_report(dest, written, root / 'reports' / 'REPORT.md', root)
    tree = toctree([p.stem for p in files if p.stem != 'index'], api, report)
    out = [stage_notebook(p, dest, written, tree if p.stem == 'index' else '', root) for p in files]
    if not any(p.stem == 'index' for p in files):
        _write(dest / 'index.md', f'# {PACKAGE}\n\n' + tree, written)
    if api: stage_api(dest, written)
    for f in sorted(dest.rglob('*'), reverse=True):   # what an earlier run staged and this one did not
        if f.is_file() and f.resolve() not in written: f.unlink()
        elif f.is_dir() and not any(f.iterdir()): f.rmdir()
    return out


if __name__ == '__main__':
    import sys
    for p in stage(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / '_proc' / 'docs' / 'src'): print(p)
