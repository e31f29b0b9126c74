#!/usr/bin/env python
"""README.md from nbs/index.ipynb without quarto, and the cell rules that the docs site shares.

`nbdev_readme` needs quarto, which this project cannot install; this does the same job with nbformat:

    python tools/nbdocs.py readme [--check]     # nbs/index.ipynb -> README.md

nbdev's cell directives are honoured (`doc_cells`, which tools/docs_stage.py uses for the Sphinx site,
`make docs`): `#| hide` and `#| include: false` drop a cell, `#| default_exp` cells are dropped,
`#| echo: false` drops the code and keeps the output, `#| output: false` drops the output; directive
lines never show.
"""
from __future__ import annotations

import argparse
import re
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


# ----------------------------------------------------------------------------- CLI
def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description='README.md from nbs/index.ipynb (no quarto); the site: make docs.')
    sub = ap.add_subparsers(dest='cmd', required=True)
    r = sub.add_parser('readme', help='nbs/index.ipynb -> README.md')
    r.add_argument('--check', action='store_true', help='only check that README.md is up to date')
    a = ap.parse_args(argv)
    text, dest = make_readme(), ROOT / 'README.md'
    if a.check:
        if not dest.exists() or dest.read_text(encoding='utf-8') != text:
            print('README.md is out of date with nbs/index.ipynb: run `make readme`', file=sys.stderr)
            return 1
        print('README.md is up to date')
        return 0
    dest.write_text(text, encoding='utf-8')
    print(f'wrote {dest.relative_to(ROOT)}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
