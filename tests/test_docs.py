"""README.md is generated from nbs/index.ipynb (tools/nbdocs.py), and the docs site is built by Sphinx + myst-nb
(tools/build_docs.py, staging in tools/docs_stage.py, settings in docs/conf.py). The real build runs once per test
run (tests/docsite.py) and is shared with tests/test_docs_browser.py."""
from __future__ import annotations

import re
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / 'tools'))
import docs_stage  # noqa: E402
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


WIDGET = {'application/vnd.jupyter.widget-view+json': {'model_id': 'x', 'version_major': 2, 'version_minor': 0},
          'text/plain': 'progress:   0%|          | 0/3'}


def test_stage_honours_directives(tmp_path):
    repo = tmp_path / 'repo'
    nbs, pics = repo / 'nbs', repo / 'reports'
    nbs.mkdir(parents=True)
    pics.mkdir()
    (pics / 'fig.png').write_bytes(b'\x89PNG fake')
    out = lambda text: nbformat.v4.new_output('stream', name='stdout', text=text)
    nbformat.write(_nb(('md', '# Home\n\n> the start')), nbs / 'index.ipynb')
    nbformat.write(_nb(('code', '#| default_exp b'), ('md', '# Second\n\n![a figure](../reports/fig.png)'),
                       ('code', '#| hide\nsecret_value = 1'), ('code', '#| include: false\nalso_secret = 1'),
                       ('code', '#| echo: false\nhidden_code()', [out('echo output\n')]),
                       ('code', '#| output: false\nshown_code()', [out('dropped output\n')]),
                       ('code', 'progress()', [nbformat.v4.new_output('display_data', data=WIDGET)]),
                       ('code', '#| export\nvisible_value = 2')), nbs / '01_b.ipynb')
    nbformat.write(_nb(('md', '# First')), nbs / '00_a.ipynb')
    nbformat.write(_nb(('md', '# Private')), nbs / '_private.ipynb')
    dest = tmp_path / 'src'
    dest.mkdir()
    (dest / 'old.ipynb').write_text('{}')                      # staged by an earlier run: removed
    staged = docs_stage.stage(dest, nbs, api=False, root=repo)
    assert [p.name for p in staged] == ['index.ipynb', '00_a.ipynb', '01_b.ipynb']
    assert sorted(p.relative_to(dest).as_posix() for p in dest.rglob('*') if p.is_file()) == \
        ['00_a.ipynb', '01_b.ipynb', '_repo/reports/fig.png', 'index.ipynb']
    b = nbformat.read(dest / '01_b.ipynb', as_version=4)
    text = nbformat.writes(b)
    for gone in ('default_exp', 'secret_value', 'also_secret', 'dropped output', '#|', 'progress:', 'widget-view'):
        assert gone not in text, gone
    assert '![a figure](_repo/reports/fig.png)' in text
    code = {c.source: c for c in b.cells if c.cell_type == 'code'}
    assert set(code) == {'hidden_code()', 'shown_code()', 'progress()', 'visible_value = 2'}
    assert code['hidden_code()'].metadata.tags == ['remove-input'] and code['hidden_code()'].outputs
    assert not code['shown_code()'].outputs and not code['progress()'].outputs
    home = nbformat.read(dest / 'index.ipynb', as_version=4).cells[-1].source   # the toctree, in file order
    assert re.search(r'```\{toctree\}[^`]*:hidden:[^`]*\n\n00_a\n01_b\n```', home), home
    assert 'api/index' not in home


def test_stage_dashboard_screenshots(tmp_path):
    "09_dashboard's staged copy shows every dashboard screenshot of reports/dashboard/, once."
    docs_stage.stage_notebook(ROOT / 'nbs' / '09_dashboard.ipynb', tmp_path, set())
    text = ' '.join(c.source for c in nbformat.read(tmp_path / '09_dashboard.ipynb', as_version=4).cells
                    if c.cell_type == 'markdown')
    shots = sorted(p.name for p in (ROOT / 'reports' / 'dashboard').glob('*.png'))
    assert shots, 'no dashboard screenshots in reports/dashboard/'
    for name in shots:
        assert text.count(f'_repo/reports/dashboard/{name}') == 1, name
        assert (tmp_path / '_repo' / 'reports' / 'dashboard' / name).read_bytes()[:4] == b'\x89PNG'
    assert '../reports/' not in text


def test_api_modules():
    mods = docs_stage.modules()
    assert {'hephaestus.ranking', 'hephaestus.evaluation.stats', 'hephaestus.data'} <= set(mods)
    assert not any('_modidx' in m or m == 'hephaestus' for m in mods) and mods == sorted(mods)
    on_disk = {p.stem for p in (ROOT / 'hephaestus').glob('[!_]*.py')}
    assert on_disk <= {m.split('.')[-1] for m in mods}, 'a module of the package has no API page'


@pytest.fixture(scope='module')
def site(tmp_path_factory):
    pytest.importorskip('myst_nb', reason='myst-nb is not installed (a development requirement: make venv)')
    from docsite import built_site
    return built_site(tmp_path_factory)


def _text(html: str) -> str:
    import html as html_
    return re.sub(r'\s+', ' ', html_.unescape(re.sub(r'<[^>]+>', '', html)))


def test_full_build(site):
    site, log = site
    problems = [l for l in log.splitlines() if 'WARNING' in l or 'ERROR' in l]
    assert not problems, 'the docs build warns:\n' + '\n'.join(problems)
    nbs = docs_stage.pages()
    assert nbs[0].name == 'index.ipynb' and [p.name for p in nbs[1:]] == sorted(p.name for p in nbs[1:])
    for nb in nbs:
        page = site / f'{nb.stem}.html'
        assert page.exists() and page.stat().st_size > 0, page
        html = page.read_text(encoding='utf-8')
        title = nbdocs.title_and_summary(nbformat.read(nb, as_version=4), nb.stem)[0]
        assert f'<title>{title}' in html.replace('&#39;', "'").replace('&#x27;', "'"), (nb.name, title)
        assert not re.search(r'<span class="c1">#\s*\|', html), f'{nb.name}: a directive line shows in the code'
        assert not re.search(r'<(script|link)[^>]+(src|href)="(https?:)?//', html), f'{nb.name}: loads from outside'
    # the sidebar: the notebooks in file order, then the API reference
    home = (site / 'index.html').read_text(encoding='utf-8')
    tree = home.split('class="sidebar-tree"')[1].split('</nav>')[0]
    links = [h[:-5] for h in re.findall(r'href="([^"#]+\.html)"', tree)]
    report = ['report'] if (docs_stage.REPORT).exists() else []   # reports/REPORT.md (`make report`), when made
    assert links[:len(nbs) + len(report)] == [nb.stem for nb in nbs[1:]] + report + ['api/index'], links
    if report:
        page = (site / 'report.html').read_text(encoding='utf-8')
        assert '<table' in page and 'src="_images/' in page and 'Headline numbers' in page
    assert {f'api/{m}' for m in docs_stage.modules()} <= set(links)
    # the API entry of rank_group: signature, docstring and the parameters' nbdev comments
    api = (site / 'api' / 'hephaestus.ranking.html').read_text(encoding='utf-8')
    entry = _text(api.split('id="hephaestus.ranking.rank_group"')[1].split('<dl class="py')[0])
    for part in ('rank_group(', 'images,', 'method: str | None = None', 'context_tol: float | None = None',
                 'Rank a group of >= 3 pictures', 'context_tol – tolerance of the shared context',
                 "images – a group: tensor [N, C, H, W] in [0, 1]", 'the answer'):
        assert part in entry, (part, entry[:1500])
    assert 'rank_group' in (site / 'searchindex.js').read_text(encoding='utf-8')
    # math: MathJax from the site itself, on the pages with math
    assert (site / '_static' / 'mathjax' / 'tex-chtml.js').stat().st_size > 100_000
    loss = (site / '02_tcvae_loss.html').read_text(encoding='utf-8')
    assert 'src="_static/mathjax/tex-chtml.js' in loss and r'\mathcal N' in loss
    assert 'require.js' not in loss and 'jupyter-widgets' not in loss
    assert 'group_view' in (site / '09_dashboard.html').read_text(encoding='utf-8')
