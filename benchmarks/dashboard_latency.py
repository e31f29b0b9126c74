#!/usr/bin/env python
"""Dashboard latency in headless chromium: our server (TCP_NODELAY) and stock Voila side by side, in one run.

    python benchmarks/dashboard_latency.py [--moves 100] [--out reports/dashboard/latency.json]

Per server: page ready (navigation -> first group explained; after a first visit that warms the server),
"new group" -> explanation shown (10 clicks),
and slider key press -> new picture displayed (`--moves` arrow presses on the most telling slider, in
alternating blocks of 10 on the two servers so that machine noise falls on both). Prints medians, p95 and
the ratio stock / ours. Run it with nothing else on the CPU.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / 'tests'))
from browser import ARGS, Server, ensure_chromium, open_dashboard, press_and_wait  # noqa: E402


def pct(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q / 100 * (len(xs) - 1))))]


def new_group_ms(page, seed: int) -> float:
    page.locator('.hp-seed input').fill(str(seed))
    page.locator('.hp-seed input').press('Enter')
    page.wait_for_timeout(300)
    n = page.evaluate('window.hp.explained.length')
    t0 = page.evaluate('performance.now()')
    page.locator('button.hp-new').click()
    page.wait_for_function(f'window.hp.explained.length > {n}', timeout=60_000)
    page.wait_for_timeout(50)
    return page.evaluate('window.hp.explained[window.hp.explained.length - 1]') - t0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--moves', type=int, default=100)
    ap.add_argument('--groups', type=int, default=10)
    ap.add_argument('--settle', type=float, default=20, help='seconds after the first visits (pools refill)')
    ap.add_argument('--out', default=str(ROOT / 'reports' / 'dashboard' / 'latency.json'))
    a = ap.parse_args(argv)
    exe = ensure_chromium()
    if exe is None:
        sys.exit('no chromium')
    from playwright.sync_api import sync_playwright
    servers = {'ours': Server(), 'stock': Server(stock=True)}
    res = {k: dict(moves=[], groups=[]) for k in servers}
    outside, errors = [], []
    try:
        with sync_playwright() as p:
            b = p.chromium.launch(executable_path=exe, headless=True, args=ARGS)
            pages = {}
            for k, s in servers.items():   # a first visit warms each server up (imports, a preheated kernel)
                first, res[k]['first_ready_s'] = open_dashboard(b, s.url, outside, errors)
                first.close()
            time.sleep(a.settle)
            for k, s in servers.items():
                pages[k], res[k]['ready_s'] = open_dashboard(b, s.url, outside, errors)
            for k, page in pages.items():
                page.evaluate('() => 0')
                for g in range(a.groups):
                    res[k]['groups'].append(new_group_ms(page, 100 + g))
            for block in range(0, a.moves, 10):
                for k, page in pages.items():
                    page.locator('.hp-slider-0 .noUi-handle').focus()
                    key = 'ArrowRight' if (block // 10) % 2 == 0 else 'ArrowLeft'
                    for _ in range(min(10, a.moves - block)):
                        res[k]['moves'].append(press_and_wait(page, key))
                    # a release: the refiner runs; wait for it so that it does not slow the other server's moves
                    page.wait_for_function('() => /refined in/.test(document.querySelector(".hp-busy").textContent)',
                                           timeout=60_000)
            b.close()
    finally:
        for s in servers.values():
            s.close()
    rows = {}
    for k, r in res.items():
        rows[k] = dict(first_ready_s=round(r['first_ready_s'], 2), ready_s=round(r['ready_s'], 2),
                       move_median_ms=round(statistics.median(r['moves']), 1),
                       move_p95_ms=round(pct(r['moves'], 95), 1),
                       new_group_median_ms=round(statistics.median(r['groups']), 1),
                       new_group_p95_ms=round(pct(r['groups'], 95), 1), moves=len(r['moves']))
    ratio = {m: round(rows['stock'][m] / max(rows['ours'][m], 1e-9), 2)
             for m in ('ready_s', 'move_median_ms', 'move_p95_ms', 'new_group_median_ms')}
    out = dict(rows=rows, ratio_stock_over_ours=ratio, outside_requests=len(outside), console_errors=errors[:20],
               produced_by='benchmarks/dashboard_latency.py', when=time.strftime('%Y-%m-%d %H:%M'))
    print(f"{'':6} {'ready s':>8} {'move med':>9} {'move p95':>9} {'group med':>10} {'group p95':>10}")
    for k, r in rows.items():
        print(f"{k:6} {r['ready_s']:8.2f} {r['move_median_ms']:9.1f} {r['move_p95_ms']:9.1f} "
              f"{r['new_group_median_ms']:10.1f} {r['new_group_p95_ms']:10.1f}")
    print('stock / ours:', ratio, '| requests outside 127.0.0.1:', len(outside), '| console errors:', len(errors))
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(out, indent=1))


if __name__ == '__main__':
    main()
