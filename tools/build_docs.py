#!/usr/bin/env python
"""The docs site (`make docs`): the notebooks and an API reference, built by Sphinx into a static folder.

    python tools/build_docs.py [--out _docs] [--build _proc/docs] [-j 2] [--clean]

tools/docs_stage.py stages the sources in BUILD/src (the notebooks with nbdev's directives applied, API stubs),
then Sphinx (settings: docs/conf.py) renders them to OUT with myst-nb, nothing executed. BUILD/doctrees keeps
Sphinx's cache, so a second run only redoes what changed; --clean starts from nothing. Open OUT/index.html,
or serve it: `python -m http.server -d _docs`.
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from docs_stage import ROOT, stage  # noqa: E402

CONF = ROOT / 'docs'


def build(out: Path = ROOT / '_docs', work: Path = ROOT / '_proc' / 'docs', jobs: str = 'auto',
          clean: bool = False, quiet: bool = True) -> int:
    "Stage the sources in `work`/src and build the HTML site into `out`; Sphinx's exit status."
    from sphinx.cmd.build import build_main
    out, work = Path(out), Path(work)
    if clean:
        for d in (out, work):
            if d.exists() and d.resolve() != ROOT: shutil.rmtree(d)
    os.environ.setdefault('MPLBACKEND', 'Agg')
    stage(work / 'src')
    args = ['-b', 'html', '-c', str(CONF), '-d', str(work / 'doctrees'), '-j', str(jobs)]
    return build_main(args + (['-q'] if quiet else []) + [str(work / 'src'), str(out)])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description='Build the docs site (Sphinx + myst-nb) from nbs/ and the package.')
    ap.add_argument('--out', type=Path, default=ROOT / '_docs', help='the site folder (default: _docs)')
    ap.add_argument('--build', type=Path, default=ROOT / '_proc' / 'docs',
                    help='staged sources and Sphinx cache (default: _proc/docs)')
    ap.add_argument('-j', '--jobs', default='auto', help="Sphinx's parallel processes (default: auto)")
    ap.add_argument('--clean', action='store_true', help='remove OUT and BUILD first (a cold build)')
    ap.add_argument('-v', '--verbose', action='store_true', help="Sphinx's progress, not only its warnings")
    a = ap.parse_args(argv)
    t0 = time.time()
    rc = build(a.out, a.build, a.jobs, a.clean, quiet=not a.verbose)
    if rc == 0: print(f'built the docs site in {a.out}/ in {time.time() - t0:.0f} s (open {a.out}/index.html)')
    return rc


if __name__ == '__main__':
    sys.exit(main())
