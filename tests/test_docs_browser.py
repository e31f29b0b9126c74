"""The docs site in a real browser: the built site (tests/docsite.py) served on 127.0.0.1, Debian's headless chromium.

Every page is opened: any request that leaves 127.0.0.1 is aborted and recorded (the test fails on any), and so is
every console error, failed request, broken picture, MathJax error and page wider than the window. The sidebar
and toctree links must answer 200, math must be typeset, the API entry of `rank_group` must show its signature
and the search page must find it. Screenshots of three pages go to reports/docs/.
"""
from __future__ import annotations

import functools
import http.server
import threading
import urllib.request

import pytest

from browser import ROOT, free_port, guard, headless_chromium

SHOTS = ROOT / 'reports' / 'docs'
RANK_GROUP = 'api/hephaestus.ranking.html#hephaestus.ranking.rank_group'
VIEW = {'width': 1280, 'height': 1000}


@pytest.fixture(scope='module')
def browser():
    yield from headless_chromium()


@pytest.fixture(scope='module')
def site(tmp_path_factory):
    pytest.importorskip('myst_nb', reason='myst-nb is not installed (a development requirement: make venv)')
    from docsite import built_site
    return built_site(tmp_path_factory)[0]


@pytest.fixture(scope='module')
def url(site):
    "The site served by a threaded http.server on 127.0.0.1 (quiet); its base URL."
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args): pass

    class Server(http.server.ThreadingHTTPServer):
        def handle_error(self, request, client_address):   # the browser left a page before a file was sent
            import sys
            if not isinstance(sys.exc_info()[1], ConnectionError): super().handle_error(request, client_address)
    server = Server(('127.0.0.1', free_port()), functools.partial(Quiet, directory=str(site)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f'http://127.0.0.1:{server.server_address[1]}/'
    server.shutdown()
    server.server_close()


def _page(browser, outside: list, errors: list, failed: list):
    page = browser.new_page(viewport=VIEW)
    guard(page, outside, errors)
    page.on('response', lambda r: failed.append(f'{r.status} {r.url}') if r.status >= 400 else None)
    page.on('requestfailed', lambda r: None if r.url in outside else failed.append(f'{r.failure} {r.url}'))
    return page


def _open(page, url: str) -> None:
    "Go to `url`, and wait until MathJax (where the page has math) has typeset it and its fonts are loaded."
    r = page.goto(url, wait_until='load')
    assert r is not None and r.status == 200, (url, r and r.status)
    page.evaluate(TYPESET)


TYPESET = """async () => {
  if (!document.querySelector('.math')) return;
  for (let t = 0; !(window.MathJax && MathJax.startup && MathJax.startup.promise); t += 50) {
    if (t > 20000) throw new Error('MathJax did not start');
    await new Promise(r => setTimeout(r, 50));
  }
  await MathJax.startup.promise;
  await document.fonts.ready;   // MathJax's fonts: loaded, not cut off by the next page
}"""


def _scroll_to(page, locator, above: int) -> None:
    "Scroll (at once, downwards from the top: no smooth scrolling, no 'back to top' button) to `above` px above it."
    page.evaluate('() => window.scrollTo({top: 0, behavior: "instant"})')
    y = locator.evaluate('e => e.getBoundingClientRect().top')
    page.evaluate(f'() => window.scrollTo({{top: {max(0, y - above)}, behavior: "instant"}})')
    page.wait_for_timeout(300)


PAGE_CHECK = """() => ({
  broken: [...document.images].filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src),
  images: document.images.length,
  math: document.querySelectorAll('.math').length,
  typeset: document.querySelectorAll('mjx-container').length,
  texErrors: [...document.querySelectorAll('mjx-merror')].map(e => e.textContent),
  tooWide: document.documentElement.scrollWidth - document.documentElement.clientWidth,
  links: [...document.querySelectorAll('.sidebar-tree a, .toctree-wrapper a')].map(a => a.href),
})"""


def test_every_page(browser, site, url):
    outside, errors, failed, problems, links = [], [], [], [], set()
    page = _page(browser, outside, errors, failed)
    pages = sorted(p.relative_to(site).as_posix() for p in site.rglob('*.html') if '_static' not in p.parts)
    n_math = n_images = 0
    for name in pages:
        n0 = len(errors)
        _open(page, url + name)
        c = page.evaluate(PAGE_CHECK)
        if c['broken']: problems.append(f'{name}: broken pictures {c["broken"]}')
        if c['math'] and not c['typeset']: problems.append(f'{name}: {c["math"]} formulas, none typeset')
        if c['texErrors']: problems.append(f'{name}: TeX errors {c["texErrors"]}')
        if c['tooWide'] > 0: problems.append(f'{name}: the page is {c["tooWide"]} px wider than the window')
        if len(errors) > n0: problems.append(f'{name}: console errors {errors[n0:]}')
        n_math, n_images = n_math + bool(c['typeset']), n_images + c['images']
        links.update(h.split('#')[0] for h in c['links'])
    page.close()
    print(f'{len(pages)} pages, {n_math} with typeset math, {n_images} pictures, {len(links)} sidebar/toctree links')
    assert len(pages) > 40 and n_math >= 5 and n_images >= 40, (len(pages), n_math, n_images)
    for link in sorted(links):
        assert link.startswith(url), link
        with urllib.request.urlopen(link, timeout=10) as r:
            assert r.status == 200, link
    assert not outside, f'requests left 127.0.0.1: {outside}'
    assert not failed, f'failed requests: {failed}'
    assert not problems, '\n'.join(problems)


def test_math_api_search_and_screenshots(browser, url):
    outside, errors, failed = [], [], []
    page = _page(browser, outside, errors, failed)
    SHOTS.mkdir(parents=True, exist_ok=True)
    _open(page, url + 'index.html')
    page.screenshot(path=str(SHOTS / 'home.png'))
    # a notebook with math and a figure: display math typeset, the figure loaded
    _open(page, url + '02_tcvae_loss.html')
    assert page.locator('mjx-container[display="true"]').count() >= 2
    assert page.locator('mjx-container').count() > 50
    page.screenshot(path=str(SHOTS / 'tcvae_loss_math.png'))   # the top: inline and display math
    fig = page.locator('.cell_output img').first
    assert fig.evaluate('i => i.naturalWidth') > 100
    _scroll_to(page, fig, 450)                                # the figure, with inline math above it
    page.screenshot(path=str(SHOTS / 'tcvae_loss_figure.png'))
    # code that is wider than the column scrolls inside its block
    wide = page.evaluate("""() => [...document.querySelectorAll('pre')].filter(p => p.scrollWidth > p.clientWidth)
                              .map(p => getComputedStyle(p).overflowX)""")
    assert all(o in ('auto', 'scroll') for o in wide), wide
    # the API entry of rank_group: its signature, docstring and parameters
    _open(page, url + RANK_GROUP)
    entry = page.locator('dl.py.function:has(> dt[id="hephaestus.ranking.rank_group"])')
    _scroll_to(page, entry, 20)
    sig, body = entry.locator('> dt').inner_text(), entry.inner_text()
    for part in ('rank_group(', 'method: str | None = None', 'context_tol: float | None = None', 'Ranking'):
        assert part in sig, (part, sig)
    assert 'context_tol – tolerance of the shared context' in body and 'Rank a group of >= 3 pictures' in body
    page.screenshot(path=str(SHOTS / 'api_rank_group.png'))
    # search (offline: searchindex.js) finds rank_group and links to its entry
    _open(page, url + 'search.html?q=rank_group')
    page.wait_for_selector('ul.search li a', timeout=20_000)
    hrefs = page.eval_on_selector_all('ul.search li a', 'as => as.map(a => a.href)')
    assert url + RANK_GROUP in hrefs, hrefs[:10]
    page.close()
    assert not outside, f'requests left 127.0.0.1: {outside}'
    assert not failed, f'failed requests: {failed}'
    assert not errors, f'console errors: {errors}'
