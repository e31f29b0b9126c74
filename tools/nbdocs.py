#!/usr/bin/env python
"""README.md and a static HTML site from the notebooks, without quarto.

`nbdev_readme` and `nbdev_docs` need quarto, which this project cannot install; these
two commands do the same job with nbformat (README) and nbconvert (site):

    python tools/nbdocs.py readme [--check]     # nbs/index.ipynb -> README.md
    python tools/nbdocs.py site [--out _docs]   # nbs/*.ipynb -> _docs/*.html + index.html

nbdev's cell directives are honoured: `#| hide` and `#| include: false` drop a cell,
`#| default_exp` cells are dropped, `#| echo: false` drops the code and keeps the output,
`#| output: false` drops the output; directive lines never show.
"""
from __future__ import annotations

import argparse
import html
import re
import shutil
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
NBS = ROOT / 'nbs'
README_HEADER = ('<!-- Generated from nbs/index.ipynb by tools/nbdocs.py (`make readme`): '
                 'edit the notebook, not this file. -->\n\n')
_DIRECTIVE_RE = re.compile(r'^\s*#\s*\|\s*(?P<key>[\w-]+:?)\s*(?P<val>.*?)\s*$')
_ANSI_RE = re.compile(r'\x1b\[[0-9;]*[A-Za-z]')


# ----------------------------------------------------------------------------- cells
def split_directives(source: str) -> tuple[dict[str, str], str]:
    "Leading `#| key value` lines of a code cell -> ({key: value}, the rest of the source)."
    lines, direc = source.splitlines(), {}
    i = 0
    while i < len(lines) and (not lines[i].strip() or _DIRECTIVE_RE.match(lines[i])):
        m = _DIRECTIVE_RE.match(lines[i])
        if m: direc[m['key'].rstrip(':')] = m['val']
        i += 1
    return direc, '\n'.join(lines[i:]).strip('\n')


def _false(v: str | None) -> bool: return v is not None and v.strip().lower() == 'false'


def doc_cells(nb) -> list:
    """Cells as the docs show them: hidden cells dropped, directive lines removed, and
    the cell metadata keys `hide_input`/`hide_output` set for `echo: false`/`output: false`."""
    out = []
    for cell in nb.cells:
        if cell.cell_type == 'raw': continue
        if cell.cell_type != 'code':
            out.append(cell)
            continue
        direc, src = split_directives(cell.source)
        if 'hide' in direc or _false(direc.get('include')) or 'default_exp' in direc: continue
        c = nbformat.from_dict(dict(cell))
        c.source = src
        c.metadata = dict(hide_input=_false(direc.get('echo')), hide_output=_false(direc.get('output')))
        if c.metadata['hide_output']: c.outputs = []
        if not src.strip() and not c.outputs: continue
        out.append(c)
    return out


def title_and_summary(nb, default: str = '') -> tuple[str, str]:
    "The notebook's `# Title` and `> summary` (nbdev's convention), from its markdown cells."
    lines = [l for c in nb.cells if c.cell_type == 'markdown' for l in c.source.splitlines()]
    title = next((l[2:].strip() for l in lines if l.startswith('# ')), default)
    summary = next((l[2:].strip() for l in lines if l.startswith('> ')), '')
    return title, summary


# ----------------------------------------------------------------------------- README
def _fence(text: str, lang: str = '') -> str:
    text = _ANSI_RE.sub('', text).rstrip('\n')
    ticks = '```'
    while ticks in text: ticks += '`'
    return f'{ticks}{lang}\n{text}\n{ticks}'


def _output_md(o) -> str | None:
    t = o.get('output_type')
    if t == 'stream': return _fence(''.join(o.get('text', '')))
    if t == 'error': return _fence('\n'.join(o.get('traceback', [])))
    data = o.get('data', {})
    if 'text/markdown' in data: return ''.join(data['text/markdown']).strip()
    if 'image/png' in data or 'image/svg+xml' in data: return None  # pictures live in the docs site
    if 'text/plain' in data: return _fence(''.join(data['text/plain']))
    return None


def notebook_markdown(nb) -> str:
    "A notebook as GitHub markdown: prose, code in python fences, text outputs in plain fences."
    parts = []
    for c in doc_cells(nb):
        if c.cell_type == 'markdown':
            parts.append(c.source.strip())
            continue
        if not c.metadata.get('hide_input') and c.source.strip(): parts.append(_fence(c.source, 'python'))
        parts += [m for m in map(_output_md, c.get('outputs', [])) if m]
    return '\n\n'.join(p for p in parts if p) + '\n'


def make_readme(index: Path = NBS / 'index.ipynb') -> str:
    "The README.md text generated from `index`."
    if not Path(index).exists(): raise FileNotFoundError(f'README source notebook {index} does not exist')
    return README_HEADER + notebook_markdown(nbformat.read(index, as_version=4))


# ----------------------------------------------------------------------------- site
SITE_CSS = """
body { margin: 0; font: 16px/1.55 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1d1f21; }
.layout { display: flex; min-height: 100vh; }
nav.sidebar { flex: 0 0 250px; background: #f6f7f9; border-right: 1px solid #e1e4e8; padding: 1.2rem 1rem; }
nav.sidebar .brand { font-weight: 700; font-size: 1.2rem; text-decoration: none; color: #b5461a; }
nav.sidebar ol { padding-left: 1.2rem; } nav.sidebar li { margin: .3rem 0; }
nav.sidebar li.current > a { font-weight: 700; color: #1d1f21; }
main { flex: 1; max-width: 1150px; padding: 1.5rem 2.5rem; overflow-x: auto; }
a { color: #0b5fad; }
pre { background: #f6f8fa; padding: .7rem .9rem; border-radius: 6px; overflow-x: auto; font-size: 14px; }
.jp-InputPrompt, .jp-OutputPrompt, .prompt { display: none; }
.jp-OutputArea-output pre { background: #fff; border-left: 3px solid #e1e4e8; }
.jp-RenderedImage img, img { max-width: 100%; }
blockquote { color: #57606a; border-left: 4px solid #d0d7de; margin-left: 0; padding-left: 1rem; }
table { border-collapse: collapse; } th, td { border: 1px solid #d0d7de; padding: .25rem .6rem; }
ol.contents li { margin: .5rem 0; } ol.contents .summary { color: #57606a; }
a.anchor-link { visibility: hidden; text-decoration: none; margin-left: .3rem; }
h1:hover > a.anchor-link, h2:hover > a.anchor-link, h3:hover > a.anchor-link { visibility: visible; }
footer.pager { display: flex; justify-content: space-between; margin-top: 3rem; border-top: 1px solid #e1e4e8;
  padding-top: 1rem; }
"""


def site_pages(nbs: Path = NBS) -> list[Path]:
    "The notebooks of the site, in reading order: index first, then by file name."
    nbs_ = sorted(p for p in Path(nbs).glob('*.ipynb') if not p.name.startswith(('_', '.')))
    return sorted(nbs_, key=lambda p: (p.stem != 'index', p.name))


def _page(title: str, body: str, pages: list[tuple[str, str]], current: str) -> str:
    cls = {href: ' class="current"' if href == current else '' for href, _ in pages}
    items = '\n'.join(f'<li{cls[href]}><a href="{href}">{html.escape(t)}</a></li>' for href, t in pages)
    hrefs = [h for h, _ in pages]
    i = hrefs.index(current)
    prev = f'<a href="{hrefs[i-1]}">&larr; {html.escape(pages[i-1][1])}</a>' if i > 0 else '<span></span>'
    nxt = f'<a href="{hrefs[i+1]}">{html.escape(pages[i+1][1])} &rarr;</a>' if i + 1 < len(hrefs) else '<span></span>'
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)} - hephaestus</title><link rel="stylesheet" href="site.css"></head>
<body><div class="layout">
<nav class="sidebar"><a class="brand" href="index.html">hephaestus</a><ol>
{items}
</ol></nav>
<main>
{body}
<footer class="pager">{prev}{nxt}</footer>
</main></div></body></html>
"""


def build_site(out: Path = ROOT / '_docs', nbs: Path = NBS) -> list[Path]:
    "Render every notebook to `out`/<name>.html with a contents page; return the pages written."
    from nbconvert import HTMLExporter
    from nbconvert.preprocessors import TagRemovePreprocessor
    from pygments.formatters import HtmlFormatter

    files = site_pages(nbs)
    if not files: raise FileNotFoundError(f'no notebooks in {nbs}')
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    nbs_read = {p: nbformat.read(p, as_version=4) for p in files}
    meta = {p: title_and_summary(nb, p.stem) for p, nb in nbs_read.items()}
    pages = [('index.html' if p.stem == 'index' else f'{p.stem}.html', meta[p][0]) for p in files]
    if 'index.html' not in dict(pages): pages.insert(0, ('index.html', 'hephaestus'))

    exporter = HTMLExporter(template_name='basic')
    tags = TagRemovePreprocessor(remove_input_tags={'hide_input'}, remove_all_outputs_tags={'hide_output'})
    exporter.register_preprocessor(tags, enabled=True)
    written = []
    for p in files:
        nb = nbs_read[p]
        nb.cells = doc_cells(nb)
        for c in nb.cells:  # TagRemovePreprocessor works on tags
            if c.cell_type == 'code':
                c.metadata['tags'] = [k for k in ('hide_input', 'hide_output') if c.metadata.get(k)]
        body, _ = exporter.from_notebook_node(nb)
        href = 'index.html' if p.stem == 'index' else f'{p.stem}.html'
        if href == 'index.html': body += _contents(files, meta)
        (out / href).write_text(_page(meta[p][0], body, pages, href), encoding='utf-8')
        written.append(out / href)
    if not any(p.stem == 'index' for p in files):
        (out / 'index.html').write_text(_page('hephaestus', '<h1>hephaestus</h1>' + _contents(files, meta),
                                              pages, 'index.html'), encoding='utf-8')
        written.insert(0, out / 'index.html')
    css = SITE_CSS + HtmlFormatter().get_style_defs('.highlight')
    if (nbs / 'styles.css').exists(): css += '\n/* nbs/styles.css */\n' + (nbs / 'styles.css').read_text()
    (out / 'site.css').write_text(css, encoding='utf-8')
    return written


def _contents(files: list[Path], meta: dict) -> str:
    rows = '\n'.join(f'<li><a href="{p.stem}.html">{html.escape(meta[p][0])}</a> <code>{p.name}</code>'
                     f'<div class="summary">{html.escape(meta[p][1])}</div></li>'
                     for p in files if p.stem != 'index')
    return f'<h2 id="notebooks">Notebooks</h2>\n<ol class="contents">\n{rows}\n</ol>\n'


# ----------------------------------------------------------------------------- CLI
def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description='README.md and an HTML site from the notebooks (no quarto).')
    sub = ap.add_subparsers(dest='cmd', required=True)
    r = sub.add_parser('readme', help='nbs/index.ipynb -> README.md')
    r.add_argument('--check', action='store_true', help='only check that README.md is up to date')
    s = sub.add_parser('site', help='nbs/*.ipynb -> OUT/*.html')
    s.add_argument('--out', type=Path, default=ROOT / '_docs')
    a = ap.parse_args(argv)
    if a.cmd == 'readme':
        text, dest = make_readme(), ROOT / 'README.md'
        if a.check:
            if not dest.exists() or dest.read_text(encoding='utf-8') != text:
                print('README.md is out of date with nbs/index.ipynb: run `make readme`', file=sys.stderr)
                return 1
            print('README.md is up to date')
            return 0
        dest.write_text(text, encoding='utf-8')
        print(f'wrote {dest.relative_to(ROOT)}')
    else:
        if a.out.exists() and a.out.resolve() != ROOT.resolve(): shutil.rmtree(a.out)
        pages = build_site(a.out)
        print(f'wrote {len(pages)} pages to {a.out}/ (open {a.out}/index.html)')
    return 0


if __name__ == '__main__':
    sys.exit(main())
