"""The docs site built once per test run (tools/build_docs.py, a cold build), shared by tests/test_docs.py and
tests/test_docs_browser.py, and by pytest-xdist's workers: it goes to pytest's temporary root, under a lock,
and whoever comes second reuses it."""
from __future__ import annotations

import fcntl
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def built_site(tmp_path_factory) -> tuple[Path, str]:
    "(the site folder, what the build printed: its warnings); raises RuntimeError when the build fails."
    base = tmp_path_factory.getbasetemp()
    if os.environ.get('PYTEST_XDIST_WORKER'): base = base.parent   # shared by the workers of this run
    work = base / 'docs-site'
    work.mkdir(exist_ok=True)
    site, log, done = work / 'html', work / 'build.log', work / 'built'
    with open(work / 'lock', 'w') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            r = subprocess.run([sys.executable, str(ROOT / 'tools' / 'build_docs.py'), '--out', str(site),
                                '--build', str(work / 'build'), '--clean'], capture_output=True, text=True,
                               cwd=ROOT, stdin=subprocess.DEVNULL, timeout=900,
                               env={**os.environ, 'MPLBACKEND': 'Agg'})
            log.write_text(r.stdout + r.stderr, encoding='utf-8')
            if r.returncode:
                raise RuntimeError(f'tools/build_docs.py failed ({r.returncode}):\n{(r.stdout + r.stderr)[-4000:]}')
            done.touch()
    return site, log.read_text(encoding='utf-8')
