"""The committed report (reports/REPORT.md, `make report`) belongs to the shipped checkpoints: every checkpoint hash
it was measured with is the hash of the file shipped now, and every figure it links to is committed."""
from __future__ import annotations

import re
from pathlib import Path

from hephaestus.paths import WEIGHTS_DIR
from hephaestus.report import SECTIONS, file_hash, slug

ROOT = Path(__file__).resolve().parent.parent
REPORT = ROOT / 'reports' / 'REPORT.md'


def test_report_is_of_the_shipped_checkpoints():
    assert REPORT.exists(), 'reports/REPORT.md is missing: run `make report` and commit it'
    text = REPORT.read_text(encoding='utf-8')
    made = text.split('## How this report was made')[1]
    pairs = re.findall(r'`([\w-]+)` ([0-9a-f]{12}|absent)', made)
    assert pairs, 'the report does not list the checkpoints it was measured with'
    stale = {name: h for name, h in pairs if h != (file_hash(WEIGHTS_DIR / f'{name}.pt') or 'absent')[:12]}
    assert not stale, f'reports/REPORT.md was measured with other checkpoints ({stale}): run `make report`'


def test_report_sections_and_figures():
    text = REPORT.read_text(encoding='utf-8')
    for s in SECTIONS.values():
        assert f'\n## {s.title}\n' in text and f'](#{slug(s.title)})' in text, s.name
    links = re.findall(r'!\[[^\]]*\]\(([^)\s]+)\)', text)
    assert links and all((REPORT.parent / link).is_file() for link in links), \
        [link for link in links if not (REPORT.parent / link).is_file()]
    html = (REPORT.parent / 'REPORT.html').read_text(encoding='utf-8')
    assert html.count('<img') == len(links) and not re.search(r'(src|href)="https?:', html)   # nothing from outside
