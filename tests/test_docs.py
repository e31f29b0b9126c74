"""README.md is generated from nbs/index.ipynb, and the notebooks render to a static site (tools/nbdocs.py)."""
from __future__ import annotations

import re
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / 'tools'))
import nbdocs  # noqa: E402


def test_readme_up_to_date():
    readme = ROOT / 'README.md'
    assert readme.exists(), 'README.md is missing: run `make readme`'
    assert readme.read_text(encoding='utf-8') == nbdocs.make_readme(), \
        'README.md is out of date with nbs/index.ipynb: run `make readme` and commit it'


def test_readme_quick_start():
    text = (ROOT / 'README.md').read_text(encoding='utf-8')
    start = text.index('## Quick start')
    block = re.search(r'```sh\n(.*?)```', text[start:], re.S).group(1)
    assert [l.split()[:2] for l in block.strip().splitlines()] == [['make', 'demo'], ['make', 'test']]


def _nb(*cells) -> nbformat.NotebookNode:
    out = []
    for kind, src, *outputs in cells:
        if kind == 'md': out.append(nbformat.v4.new_markdown_cell(src))
        else: out.append(nbformat.v4.new_code_cell(src, outputs=outputs[0] if outputs else []))
    return nbformat.v4.new_notebook(cells=out)


def test_directives():
    stream = nbformat.v4.new_output('stream', name='stdout', text='shown output\n')
    nb = _nb(('code', '#| default_exp x'),
             ('md', '# Title\n\n> summary'),
             ('code', '#| hide\nsecret = 1', [stream]),
             ('code', '#| include: false\nalso_secret = 1'),
             ('code', '#| echo: false\nhidden_code()', [stream]),
             ('code', '#| output: false\nshown_code()',
              [nbformat.v4.new_output('stream', name='stdout', text='dropped\n')]),
             ('code', '#|export\ndef f(): pass'),
             ('code', 'x = 1',
              [nbformat.v4.new_output('execute_result', data={'text/plain': '42'}, execution_count=1)]))
    md = nbdocs.notebook_markdown(nb)
    for gone in ('default_exp', 'secret', 'hidden_code', 'dropped', '#|'):
        assert gone not in md, gone
    for kept in ('# Title', '> summary', 'shown output', 'shown_code()',
                 '```python\ndef f(): pass\n```', '```\n42\n```'):
        assert kept in md, kept
    assert nbdocs.title_and_summary(nb) == ('Title', 'summary')


def test_split_directives():
    assert nbdocs.split_directives('#| eval: false\n#|hide\n\nx = 1\n#| not a directive') == \
        ({'eval': 'false', 'hide': ''}, 'x = 1\n#| not a directive')


def test_fence_survives_backticks():
    assert nbdocs._fence('a ``` b') == '````\na ``` b\n````'


def test_readme_missing_source(tmp_path):
    with pytest.raises(FileNotFoundError, match='index.ipynb'):
        nbdocs.make_readme(tmp_path / 'index.ipynb')


def test_site(tmp_path):
    pytest.importorskip('nbconvert', reason='nbconvert is not installed (make installs it with the dev tools)')
    pages = nbdocs.build_site(tmp_path)
    nbs = nbdocs.site_pages(ROOT / 'nbs')
    assert nbs[0].name == 'index.ipynb' and [p.name for p in nbs[1:]] == sorted(p.name for p in nbs[1:])
    names = {p.name for p in pages}
    for nb in nbs:
        page = 'index.html' if nb.stem == 'index' else f'{nb.stem}.html'
        assert page in names and (tmp_path / page).stat().st_size > 0, page
    assert (tmp_path / 'site.css').exists()
    index = (tmp_path / 'index.html').read_text(encoding='utf-8')
    contents = index.split('<ol class="contents">')[1].split('</ol>')[0]
    linked = re.findall(r'<a href="([^"]+)\.html">', contents)
    assert linked == [nb.stem for nb in nbs if nb.stem != 'index']  # every notebook, in order
    for nb in nbs[1:]:
        title = nbdocs.title_and_summary(nbformat.read(nb, as_version=4), nb.stem)[0]
        html = (tmp_path / f'{nb.stem}.html').read_text(encoding='utf-8')
        assert f'<title>{title}' in html.replace('&#x27;', "'")
        assert not re.search(r'<span class="c1">#\s*\|', html), f'{nb.name}: a directive line shows in the code'


def test_site_honours_hide(tmp_path):
    pytest.importorskip('nbconvert', reason='nbconvert is not installed (make installs it with the dev tools)')
    nbs = tmp_path / 'nbs'
    nbs.mkdir()
    nbformat.write(_nb(('md', '# Home\n\n> the start')), nbs / 'index.ipynb')
    nbformat.write(_nb(('md', '# Second'), ('code', '#| hide\nsecret_value = 1'),
                       ('code', '#| export\nvisible_value = 2')),
                   nbs / '01_b.ipynb')
    nbformat.write(_nb(('md', '# First')), nbs / '00_a.ipynb')
    out = tmp_path / 'site'
    nbdocs.build_site(out, nbs)
    assert sorted(p.name for p in out.iterdir()) == ['00_a.html', '01_b.html', 'index.html', 'site.css']
    b = (out / '01_b.html').read_text()
    assert 'visible_value' in b and 'secret_value' not in b and '#|' not in b
    assert re.findall(r'<a href="([^"]+)\.html">',
                      (out / 'index.html').read_text().split('<ol class="contents">')[1].split('</ol>')[0]) \
        == ['00_a', '01_b']
