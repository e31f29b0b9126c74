"""The dashboard in a real browser: Voila on 127.0.0.1 and Debian's headless chromium (playwright).

Every request that leaves 127.0.0.1 is aborted and counted (the test fails on any), and so is any console
error. The test picks a group, clicks a picture, drags a slider, uploads a bad file and checks what the
page shows; screenshots go to reports/dashboard/.
"""
from __future__ import annotations

import pytest

from browser import ROOT, Server, free_port, guard, headless_chromium, open_dashboard, press_and_wait, wait_port

SHOTS = ROOT / 'reports' / 'dashboard'


@pytest.fixture(scope='module')
def browser():
    yield from headless_chromium()


@pytest.fixture(scope='module')
def server():
    s = Server()
    yield s
    s.close()


def _text(page, sel: str) -> str:
    return page.locator(sel).first.inner_text()


def test_dashboard_in_the_browser(browser, server):
    outside, errors = [], []
    page, ready = open_dashboard(browser, server.url, outside, errors)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / 'group_view.png'), full_page=True)
    first = _text(page, '.hp-explain')
    # pick a group: the single-factor style, a new seed
    page.get_by_role('button', name='single factor').click()
    page.locator('.hp-seed input').fill('11')
    page.locator('button.hp-new').click()
    page.wait_for_function('(t) => document.querySelector(".hp-explain").textContent !== t', arg=first,
                           timeout=60_000)
    assert 'odd one out' in _text(page, '.hp-explain') or 'No clear outlier' in _text(page, '.hp-explain')
    # click a picture: explore picture 1
    page.locator('button.hp-explore-1').click()
    page.wait_for_function('() => /edited image 1/.test(document.querySelector(".hp-rescore").textContent)',
                           timeout=30_000)
    page.evaluate(__import__('browser').PROBE)
    before = page.locator('img.hp-picture').get_attribute('src')
    # drag a slider: focus its handle, arrow keys, then the mouse
    handle = page.locator('.hp-slider-0 .noUi-handle')
    handle.focus()
    ms = [press_and_wait(page, 'ArrowRight') for _ in range(5)]
    box = handle.bounding_box()
    page.mouse.move(box['x'] + box['width'] / 2, box['y'] + box['height'] / 2)
    page.mouse.down()
    page.mouse.move(box['x'] + 80, box['y'] + box['height'] / 2, steps=8)
    page.mouse.up()
    page.wait_for_function('() => !document.querySelector("img.hp-refined").classList.contains("hp-stale-img")'
                           ' && /refined in/.test(document.querySelector(".hp-busy").textContent)', timeout=60_000)
    assert page.locator('img.hp-picture').get_attribute('src') != before
    assert 'edited image 1' in _text(page, '.hp-rescore')
    page.screenshot(path=str(SHOTS / 'latent_explorer.png'), full_page=True)
    # copy as code shows the edit call
    page.get_by_role('button', name='copy as code').click()
    page.wait_for_function('() => /hp.edit\\(model, group\\[1\\]/.test(document.querySelector("textarea").value)',
                           timeout=30_000)
    # a bad upload: a message in the page, and the dashboard keeps working
    page.get_by_role('button', name='upload').click()
    with page.expect_file_chooser() as chooser:
        page.locator('.hp-upload').click()
    chooser.value.set_files([dict(name=f'{k}.txt', mimeType='image/png', buffer=b'not a picture') for k in range(3)])
    page.wait_for_function('() => /not a picture/.test(document.querySelector(".hp-msg").textContent)',
                           timeout=30_000)
    page.screenshot(path=str(SHOTS / 'bad_upload.png'), full_page=True)
    handle.focus()
    press_and_wait(page, 'ArrowLeft')
    page.close()
    print(f'page ready {ready:.1f} s; key press -> picture {sorted(ms)[len(ms) // 2]:.0f} ms (median of {len(ms)})')
    assert not outside, f'requests left 127.0.0.1: {outside}'
    assert not errors, f'console errors: {errors}'



def test_dashboard_in_jupyterlab(browser, tmp_path):
    "The same dashboard in JupyterLab (on 127.0.0.1, nothing fetched elsewhere): run the app notebook, explore, drag."
    import os
    import shutil
    import signal
    import subprocess
    import sys
    shutil.copy(ROOT / 'apps' / 'dashboard.ipynb', tmp_path / 'dashboard.ipynb')   # JupyterLab may save its copy
    port = free_port()
    env = {**os.environ, 'JUPYTER_CONFIG_DIR': str(tmp_path / 'cfg')}
    env['PYTHONPATH'] = os.pathsep.join(filter(None, [str(ROOT), env.get('PYTHONPATH')]))
    proc = subprocess.Popen([sys.executable, '-m', 'jupyterlab', '--no-browser', '--ServerApp.ip=127.0.0.1',
                             f'--ServerApp.port={port}', '--IdentityProvider.token=', '--ServerApp.password=',
                             f'--ServerApp.root_dir={tmp_path}'] + (['--allow-root'] if os.geteuid() == 0 else []),
                            env=env, stdout=open(tmp_path / 'lab.log', 'w'), stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        assert wait_port(port, 60), 'JupyterLab did not start: ' + (tmp_path / 'lab.log').read_text()[-2000:]
        outside, errors = [], []
        page = browser.new_page(viewport={'width': 1280, 'height': 1600})
        guard(page, outside, errors)
        page.goto(f'http://127.0.0.1:{port}/lab/tree/dashboard.ipynb', timeout=120_000)
        page.wait_for_selector('.jp-CodeCell', timeout=120_000)
        for attempt in range(3):   # the first Shift+Enter can come before the kernel connects: try again
            page.wait_for_timeout(4000)
            page.locator('.jp-CodeCell .jp-InputArea-editor').first.click()
            page.keyboard.press('Shift+Enter')
            try:
                page.wait_for_function("() => { const e = document.querySelector('.hp-explain');"
                                       " return e && /odd one out|No clear outlier/.test(e.textContent); }",
                                       timeout=60_000)
                break
            except Exception:
                if attempt == 2:
                    page.screenshot(path=str(tmp_path / 'failed.png'))
                    raise
        page.locator('button.hp-explore-2').click()
        page.wait_for_function('() => /edited image 2/.test(document.querySelector(".hp-rescore").textContent)',
                               timeout=30_000)
        before = page.locator('img.hp-picture').get_attribute('src')
        page.locator('.hp-slider-0 .noUi-handle').focus()
        page.keyboard.press('ArrowRight')
        page.wait_for_function('(b) => document.querySelector("img.hp-picture").src !== b', arg=before,
                               timeout=30_000)
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / 'jupyterlab.png'))
        page.close()
        assert not outside, f'requests left 127.0.0.1: {outside}'
        assert not errors, f'console errors: {errors}'
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(30)
