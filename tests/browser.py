"""Shared by the browser test and the dashboard benchmarks: Debian's chromium, a Voila server of the
dashboard on 127.0.0.1, and a page that refuses every request leaving 127.0.0.1 and records console errors."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = '/usr/bin/chromium'
ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
        '--no-first-run']


def ensure_chromium() -> str | None:
    "Path of Debian's chromium, installed with apt-get when missing; None (and why, printed) when impossible."
    if Path(CHROMIUM).exists():
        return CHROMIUM
    if not shutil.which('apt-get') or os.geteuid() != 0:
        print('chromium is missing and apt-get cannot install it here (needs root and apt-get)')
        return None
    print('installing chromium with apt-get (apt-get update first)', flush=True)
    env = {**os.environ, 'DEBIAN_FRONTEND': 'noninteractive'}
    for cmd in (['apt-get', 'update'], ['apt-get', 'install', '-y', '-q', 'chromium']):
        r = subprocess.run(cmd, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=900)
        if r.returncode:
            print(f'{" ".join(cmd)} failed:\n{r.stderr[-2000:]}')
            return None
    return CHROMIUM if Path(CHROMIUM).exists() else None


def headless_chromium():
    "Generator for a pytest fixture: a headless chromium (playwright), closed afterwards; skips when there is none."
    import pytest
    exe = ensure_chromium()
    if exe is None:
        pytest.skip('no chromium: it is missing and apt-get could not install it (reason printed above)')
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail('playwright is missing: it is a development requirement (make venv installs it)', pytrace=False)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=exe, headless=True, args=ARGS)
        yield b
        b.close()


def free_port() -> int:
    "A free TCP port on 127.0.0.1."
    import socket
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def wait_port(port: int, timeout: float) -> bool:
    "Whether something listens on 127.0.0.1:`port` within `timeout` seconds."
    import socket
    t0 = time.time()
    while time.time() - t0 < timeout:
        try:
            socket.create_connection(('127.0.0.1', port), timeout=2).close()
            return True
        except OSError:
            time.sleep(0.3)
    return False


class Server:
    "tools/serve_dashboard.py in a subprocess; `url` once it listens."
    def __init__(self, stock: bool = False, model: str = 'shapes3d', timeout: float = 120):
        env = {**os.environ, 'PYTHONUNBUFFERED': '1'}
        env['PYTHONPATH'] = os.pathsep.join(filter(None, [str(ROOT), env.get('PYTHONPATH')]))
        self.proc = subprocess.Popen([sys.executable, str(ROOT / 'tools' / 'serve_dashboard.py'), '--model', model]
                                     + (['--stock'] if stock else []), stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True, env=env, cwd=ROOT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)  # kernels die with it
        self.log, t0 = [], time.time()
        while time.time() - t0 < timeout:
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError('the dashboard server stopped:\n' + ''.join(self.log))
            self.log.append(line)
            if line.startswith('serving '):
                self.url = line.split()[1]
                break
        else:
            raise RuntimeError('the dashboard server did not start:\n' + ''.join(self.log))
        import threading
        threading.Thread(target=self._drain, daemon=True).start()
        self._wait_listening(timeout - (time.time() - t0))

    def _drain(self):
        for line in self.proc.stdout:
            self.log.append(line)
            del self.log[:-400]

    def _wait_listening(self, timeout: float):
        if not wait_port(int(self.url.rstrip('/').rsplit(':', 1)[1]), timeout):
            raise RuntimeError('the dashboard server does not answer:\n' + ''.join(self.log))

    def close(self):
        "Stop the server and its kernels (its whole process group)."
        import signal
        for sig, wait in ((signal.SIGTERM, 15), (signal.SIGKILL, 5)):
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                return
            try:
                self.proc.wait(wait)
                os.killpg(self.proc.pid, 0)   # kernels still there?
                time.sleep(1)
            except (subprocess.TimeoutExpired, ProcessLookupError):
                continue


def guard(page, outside: list, errors: list) -> None:
    "Abort (and record) every request not to 127.0.0.1; record console errors and page errors."
    def route(r):
        url = r.request.url
        if url.startswith(('data:', 'blob:')) or urlparse(url).hostname == '127.0.0.1':
            r.continue_()
        else:
            outside.append(url)
            r.abort()
    page.route('**/*', route)
    page.on('console', lambda m: errors.append(m.text) if m.type == 'error' else None)
    page.on('pageerror', lambda e: errors.append(str(e)))


PROBE = """() => {
  // record when the explored picture has displayed a new image, and when the explanation changed
  window.hp = {keys: [], shown: [], explained: []};
  document.addEventListener('keydown', () => window.hp.keys.push(performance.now()), true);
  document.addEventListener('load', e => {
    if (e.target.classList && e.target.classList.contains('hp-picture')) window.hp.shown.push(performance.now());
  }, true);
  const ex = document.querySelector('.hp-explain');
  new MutationObserver(() => window.hp.explained.push(performance.now())).observe(ex, {subtree: true,
    childList: true, characterData: true});
}"""


def open_dashboard(browser, url: str, outside: list, errors: list, timeout: float = 180):
    "A page on the dashboard, ready (the first group explained), with the probe installed; and its load time (s)."
    page = browser.new_page(viewport={'width': 1280, 'height': 2000})
    guard(page, outside, errors)
    t0 = time.time()
    page.goto(url, wait_until='domcontentloaded', timeout=timeout * 1000)
    page.wait_for_function("() => { const e = document.querySelector('.hp-explain');"
                           " return e && /odd one out|No clear outlier/.test(e.textContent); }", timeout=timeout * 1000)
    ready = time.time() - t0
    page.evaluate(PROBE)
    return page, ready


def press_and_wait(page, key: str, timeout: float = 10) -> float:
    "Press `key` on the focused slider; ms from the key press to the new picture displayed."
    n = page.evaluate('window.hp.shown.length')
    page.keyboard.press(key)
    page.wait_for_function(f'window.hp.shown.length > {n}', timeout=timeout * 1000)
    return page.evaluate('window.hp.shown[window.hp.shown.length - 1] - window.hp.keys[window.hp.keys.length - 1]')
