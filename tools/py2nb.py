#!/usr/bin/env python
"""Convert a percent-format draft (.py) into a clean Jupyter notebook (.ipynb).

Notebooks are the source of truth; drafts live outside the repository (tools/nb2py.py writes one
from a notebook). Cells start with a line `# %%` (code) or `# %% [md]` (markdown; each line's leading
`# ` is removed). Usage: py2nb.py draft.py out.ipynb [--run]   (--run executes it with
nbclient in the notebook's folder and keeps outputs, then the caller runs nbdev_clean).
"""
import hashlib, sys, re, nbformat
from pathlib import Path

def convert(src, dst, run=False):
    text = Path(src).read_text()
    cells, cur, kind = [], [], None
    def flush():
        if kind is None: return
        body = '\n'.join(cur).strip('\n')
        if kind == 'md':
            body = '\n'.join(l[2:] if l.startswith('# ') else (l[1:] if l.startswith('#') else l)
                             for l in body.split('\n'))
            cells.append(nbformat.v4.new_markdown_cell(body))
        elif body.strip():
            cells.append(nbformat.v4.new_code_cell(body))
    for line in text.split('\n'):
        m = re.match(r'^# %%(.*)$', line)
        if m:
            flush()
            cur = []
            kind = 'md' if '[md]' in m.group(1) or '[markdown]' in m.group(1) else 'code'
        else:
            cur.append(line)
    flush()
    seen = set()
    for c in cells:   # stable cell ids (from the source), so re-converting an unchanged cell changes nothing
        h = hashlib.sha1(c.source.encode()).hexdigest()
        while h[:8] in seen: h = hashlib.sha1(h.encode()).hexdigest()
        c.id = h[:8]
        seen.add(c.id)
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata = {'kernelspec': {'display_name': 'python3', 'language': 'python', 'name': 'python3'}}
    if run:
        # run a copy in which `#| eval: false` cells are blanked, then copy the outputs back
        import copy
        from nbclient import NotebookClient
        runnable = copy.deepcopy(nb)
        skip = [c.cell_type == 'code' and re.search(r'^#\|\s*eval:\s*false', c.source, re.M) is not None
                for c in nb.cells]
        for c, s in zip(runnable.cells, skip):
            if s: c.source = 'pass'
        NotebookClient(runnable, timeout=1800, kernel_name='python3',
                       resources={'metadata': {'path': str(Path(dst).parent)}}).execute()
        for c, r, s in zip(nb.cells, runnable.cells, skip):
            if c.cell_type == 'code' and not s: c.outputs, c.execution_count = r.outputs, r.execution_count
    nbformat.write(nb, dst)

if __name__ == '__main__':
    convert(sys.argv[1], sys.argv[2], run='--run' in sys.argv)
