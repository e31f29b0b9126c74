#!/usr/bin/env python
"""Write a notebook as a percent-format draft (.py), the inverse of tools/py2nb.py.

Usage: python tools/nb2py.py nbs/X.ipynb /tmp/X.py   # edit the draft, then
       python tools/py2nb.py /tmp/X.py nbs/X.ipynb --run && nbdev_clean --fname nbs/X.ipynb && nbdev_export
Drafts live outside the repository: the notebook stays the source of truth.
"""
import sys, nbformat
from pathlib import Path

def convert(src, dst):
    nb = nbformat.read(src, as_version=4)
    parts = []
    for c in nb.cells:
        if c.cell_type == 'markdown':
            parts.append('# %% [md]\n' + '\n'.join(('# ' + l) if l else '#' for l in c.source.split('\n')))
        elif c.cell_type == 'code':
            parts.append('# %%\n' + c.source)
    Path(dst).write_text('\n\n'.join(parts) + '\n')

if __name__ == '__main__':
    convert(sys.argv[1], sys.argv[2])
