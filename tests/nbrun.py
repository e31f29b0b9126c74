#!/usr/bin/env python
"""Execute one notebook the way `nbdev_test` does, and on failure print the cell that failed.

Usage: python tests/nbrun.py NOTEBOOK [--skip FLAG ...] [--force FLAG ...]
Runs in the notebook's folder with nbdev's processor and execnb's CaptureShell, skips cells
marked `#| eval: false` and cells carrying a skipped flag (`#| slow`, from settings.ini's
tst_flags) unless forced. Exit 0 when every cell ran, 1 with a report on stdout otherwise.
tests/test_notebooks.py runs it in a fresh process per notebook (isolation, timeouts).
"""
from __future__ import annotations

import argparse
import os
import re
import sys
import time
import traceback
from pathlib import Path


_ANSI = re.compile(r'\x1b\[[0-9;]*[A-Za-z]')


def _notebook_tb(e: BaseException) -> str:
    "The traceback of `e` from the first frame of notebook code on (the runner's own frames dropped)."
    frames = traceback.extract_tb(e.__traceback__)
    first = next((i for i, f in enumerate(frames) if f.filename.startswith('<ipython-input')
                  or 'ipykernel' in f.filename), 0)
    lines = ['Traceback (most recent call last):\n', *traceback.format_list(frames[first:]),
             *traceback.format_exception_only(type(e), e)]
    return ''.join(lines).rstrip()


def run_notebook(fn: Path, skip_flags=('slow',), force_flags=(), root: Path | None = None,
                 times: int = 0) -> tuple[bool, str]:
    "Run notebook `fn`; return (passed, report). `root` goes on sys.path like nbdev's basepath; `times`: also\
 list the slowest cells."
    from execnb.shell import CaptureShell
    from fastcore.xtras import working_directory
    from nbdev.frontmatter import FrontmatterProc
    from nbdev.process import NBProcessor, nb_lang

    fn = Path(fn).resolve()
    if root is not None: sys.path.insert(0, str(root))
    os.environ['IN_TEST'] = '1'  # as nbdev_test does: nbdev_export() calls inside notebooks do nothing
    flags = set(skip_flags) - set(force_flags)
    nb = NBProcessor(fn, procs=FrontmatterProc, process=True).nb
    fm = getattr(nb, 'frontmatter_', {}) or {}
    if str(fm.get('skip_exec', False)).lower() in ('true', '1', 'yes') or nb_lang(nb) != 'python':
        return True, f'{fn.name}: skipped (skip_exec or not python)'

    state = dict(cell=None, idx=0, ran=0, skipped=0)
    starts = []   # (time, code cell number) at the start of each cell that runs
    code_cells = [c for c in nb.cells if c.cell_type == 'code']

    def no_eval(cell) -> bool:
        if cell.cell_type != 'code': return True
        direc = getattr(cell, 'directives_', {}) or {}
        skip = ('nbdev_export(' in cell.source or direc.get('eval:', [''])[0].lower() == 'false'
                or bool(flags & set(direc)))
        if skip: state['skipped'] += 1
        else:
            state['cell'], state['ran'] = cell, state['ran'] + 1
            state['idx'] = next((i for i, c in enumerate(code_cells, 1) if c is cell), 0)
            starts.append((time.time(), state['idx']))
        return skip

    shell = CaptureShell(fn)
    start = time.time()
    try:
        with working_directory(fn.parent):
            shell.run_all(nb, exc_stop=True, preproc=no_eval)
    except BaseException as e:  # the notebook's own exception, re-raised by execnb
        cell = state['cell']
        src = cell.source if cell is not None else '<unknown>'
        streams = ''.join(''.join(o.get('text', '')) for o in (getattr(cell, 'outputs', None) or [])
                          if o.get('output_type') == 'stream' and o.get('name') == 'stdout')
        report = [f'{fn.name}: code cell #{state["idx"]} of {len(code_cells)} raised {type(e).__name__}: {e}',
                  '----- cell source -----', src.rstrip()]
        if streams.strip():
            report += ['----- cell stdout (last 30 lines) -----', *_ANSI.sub('', streams).rstrip().splitlines()[-30:]]
        report += ['----- traceback (notebook frames) -----', _notebook_tb(e)]
        return False, '\n'.join(report)
    report = (f'{fn.name}: {state["ran"]} code cells ran, {state["skipped"]} skipped, '
              f'{time.time() - start:.1f}s')
    if times and starts:
        ends = [t for t, _ in starts[1:]] + [time.time()]
        slow = sorted(((e - t, i) for (t, i), e in zip(starts, ends)), reverse=True)[:times]
        report += '\n' + '\n'.join(f'  cell #{i}: {d:.1f}s' for d, i in slow)
    return True, report


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('notebook', type=Path)
    p.add_argument('--skip', nargs='*', default=['slow'], help='flags whose cells are skipped')
    p.add_argument('--force', nargs='*', default=[], help='flags whose cells run anyway')
    p.add_argument('--root', type=Path, default=Path(__file__).resolve().parent.parent)
    p.add_argument('--times', type=int, default=0, help='also list this many of the slowest cells')
    a = p.parse_args(argv)
    ok, report = run_notebook(a.notebook, a.skip, a.force, a.root, a.times)
    print(report, flush=True)
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
