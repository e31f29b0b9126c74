#!/usr/bin/env python
"""Load: eight browser sessions on one dashboard server at once, each dragging sliders for 60 s.

    python benchmarks/dashboard_load.py [--sessions 8] [--seconds 60] [--out reports/dashboard/load.json]

Each session is its own page (its own Voila kernel) in one headless chromium. Every session presses arrow
keys on its most telling slider, waiting for each new picture, until the time is up; the run then stops by
itself. Reported: pictures shown and the answer time per session (every session must keep answering), kernels
alive at the end, and the peak memory of the server and its kernels (sampled every 0.5 s).
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / 'tests'))
from browser import ARGS, Server, ensure_chromium, open_dashboard  # noqa: E402


def tree_rss(pid: int) -> tuple[int, int]:
    "(RSS bytes of a process and its descendants, how many of them are kernels)."
    import psutil
    p = psutil.Process(pid)
    procs = [p] + p.children(recursive=True)
    rss, kernels = 0, 0
    for q in procs:
        try:
            rss += q.memory_info().rss
            kernels += 'ipykernel' in ' '.join(q.cmdline())
        except psutil.Error:
            pass
    return rss, kernels


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--sessions', type=int, default=8)
    ap.add_argument('--seconds', type=float, default=60)
    ap.add_argument('--out', default=str(ROOT / 'reports' / 'dashboard' / 'load.json'))
    a = ap.parse_args(argv)
    if ensure_chromium() is None:
        sys.exit('no chromium')
    from playwright.sync_api import sync_playwright
    s = Server()
    peak, samples, stop = [0, 0], [], threading.Event()

    def sample():
        while not stop.is_set():
            rss, k = tree_rss(s.proc.pid)
            peak[0], peak[1] = max(peak[0], rss), max(peak[1], k)
            samples.append(rss)
            time.sleep(0.5)
    threading.Thread(target=sample, daemon=True).start()
    outside, errors, per = [], [], []
    t_open = time.time()
    try:
        with sync_playwright() as p:
            b = p.chromium.launch(executable_path='/usr/bin/chromium', headless=True, args=ARGS)
            pages = []
            for _ in range(a.sessions):
                page, ready = open_dashboard(b, s.url, outside, errors, timeout=300)
                page.locator('.hp-slider-0 .noUi-handle').focus()
                pages.append(dict(page=page, ready=ready, ms=[], timeouts=0, key='ArrowRight', n=0))
            opened = time.time() - t_open
            t_end = time.time() + a.seconds
            while time.time() < t_end:   # round robin: one key press per session, then wait for the pictures
                for q in pages:
                    q['n0'] = q['page'].evaluate('window.hp.shown.length')
                    q['page'].bring_to_front()
                    q['page'].locator('.hp-slider-0 .noUi-handle').focus()
                    q['n'] += 1
                    if q['n'] % 20 == 0:
                        q['key'] = 'ArrowLeft' if q['key'] == 'ArrowRight' else 'ArrowRight'
                    q['page'].keyboard.press(q['key'])
                for q in pages:
                    try:
                        q['page'].wait_for_function(f"window.hp.shown.length > {q['n0']}", timeout=10_000)
                        q['ms'].append(q['page'].evaluate(
                            'window.hp.shown[window.hp.shown.length - 1] - window.hp.keys[window.hp.keys.length - 1]'))
                    except Exception:
                        q['timeouts'] += 1
            alive = tree_rss(s.proc.pid)[1]
            b.close()
    finally:
        stop.set()
        s.close()
    rows = [dict(ready_s=round(q['ready'], 1), presses=q['n'], pictures=len(q['ms']), timeouts=q['timeouts'],
                 median_ms=round(statistics.median(q['ms']), 1) if q['ms'] else None) for q in pages]
    out = dict(sessions=a.sessions, seconds=a.seconds, open_all_s=round(opened, 1), per_session=rows,
               kernels_alive_at_end=alive, peak_kernels=peak[1], peak_rss_mb=round(peak[0] / 2**20),
               outside_requests=len(outside), console_errors=errors[:20],
               every_session_answered=all(r['pictures'] > 0 for r in rows),
               produced_by='benchmarks/dashboard_load.py', when=time.strftime('%Y-%m-%d %H:%M'))
    for i, r in enumerate(rows):
        print(f"session {i}: ready {r['ready_s']} s, {r['presses']} presses, {r['pictures']} pictures, "
              f"{r['timeouts']} timeouts, median {r['median_ms']} ms")
    print(f"kernels alive at the end {alive} (peak {peak[1]}); peak memory of server + kernels {out['peak_rss_mb']} MB;"
          f" requests outside 127.0.0.1: {len(outside)}; console errors: {len(errors)}")
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(out, indent=1))


if __name__ == '__main__':
    main()
