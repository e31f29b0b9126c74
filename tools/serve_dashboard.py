#!/usr/bin/env python
"""Serve the dashboard (apps/dashboard.ipynb) with Voila on 127.0.0.1, offline and with Nagle's algorithm off.

    python tools/serve_dashboard.py [--port 0] [--stock] [--model shapes3d] [--open]

--port 0 (the default) takes a free port; the address is printed as "serving http://127.0.0.1:PORT/".
Three changes to stock Voila; benchmarks/dashboard_latency.py measures the first two against --stock:
- the kernel websocket sets TCP_NODELAY (--stock leaves it out): without it every small kernel -> browser
  message waits for the browser's delayed ACK (about 40 ms on loopback);
- kernels are preheated (--pool, default 1; --stock: none): the dashboard is built before anyone asks for the page;
- the page template leaves out the icon-font stylesheets that Voila's page links from a CDN; the icons
  come with the widget bundle that Voila serves itself (no request leaves 127.0.0.1).
"""
from __future__ import annotations

import argparse
import os
import socket
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / 'apps' / 'dashboard.ipynb'


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def nodelay_patch() -> None:
    "Make every kernel websocket of this server send small messages at once (TCP_NODELAY)."
    from jupyter_server.services.kernels.websocket import KernelWebsocketHandler
    if getattr(KernelWebsocketHandler, '_hephaestus_nodelay', False):
        return
    opened = KernelWebsocketHandler.open

    def open(self, *args, **kwargs):
        self.set_nodelay(True)
        return opened(self, *args, **kwargs)

    KernelWebsocketHandler.open = open
    KernelWebsocketHandler._hephaestus_nodelay = True


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--port', type=int, default=0, help='port on 127.0.0.1 (0: a free one)')
    p.add_argument('--stock', action='store_true',
                   help="stock Voila (the benchmark's reference): Nagle on, no preheated kernel")
    p.add_argument('--model', default='shapes3d', help='the shipped model the page opens with')
    p.add_argument('--open', action='store_true', help='open a browser')
    p.add_argument('--pool', type=int, default=1, help='kernels kept started with the dashboard built, ready for '
                   'the next visitor (0: start one per visit)')
    a = p.parse_args(argv)
    port = a.port or free_port()
    os.environ['HEPHAESTUS_MODEL'] = a.model
    if not a.stock:
        nodelay_patch()
    from voila.app import main as voila  # voila: a development requirement, imported when serving
    print(f'serving http://127.0.0.1:{port}/ ({"stock" if a.stock else "TCP_NODELAY"}); Ctrl-C stops', flush=True)
    # our page template (apps/share/jupyter/voila/templates/hephaestus): nothing fetched from a CDN
    os.environ['JUPYTER_PATH'] = os.pathsep.join(filter(None, [str(APP.parent / 'share' / 'jupyter'),
                                                               os.environ.get('JUPYTER_PATH')]))
    sys.argv = ['voila', str(APP), '--Voila.ip=127.0.0.1', f'--port={port}', '--template=hephaestus',
                '--Voila.open_browser=True' if a.open else '--no-browser', '--Voila.show_tracebacks=False',
                f'--Voila.root_dir={APP.parent}'] + (
                    ['--preheat_kernel=True', f'--pool_size={a.pool}'] if a.pool > 0 and not a.stock else [])
    voila()


if __name__ == '__main__':
    main()
