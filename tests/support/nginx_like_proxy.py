"""A reverse proxy on the same host that behaves as nginx's default ``proxy_pass``.

It connects to the app from 127.0.0.1, sends ``Host: 127.0.0.1:<port>`` (nginx's
``$proxy_host``; Apache with ``ProxyPreserveHost Off`` does the same), passes the
client's own headers through untouched (an ``X-Forwarded-For`` a client made up
included) and adds none of its own. Behind it, every client looks local.
"""

from __future__ import annotations

import http.client
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

_HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "te",
    "trailer",
    "upgrade",
    "host",
    "content-length",
}


class _Forward(BaseHTTPRequestHandler):
    upstream_port = 0

    def _forward(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        headers = {
            name: value for name, value in self.headers.items() if name.lower() not in _HOP_BY_HOP
        }
        headers["Host"] = f"127.0.0.1:{self.upstream_port}"
        if body is not None:
            headers["Content-Length"] = str(len(body))
        upstream = http.client.HTTPConnection("127.0.0.1", self.upstream_port, timeout=30)
        try:
            upstream.request(self.command, self.path, body=body, headers=headers)
            answer = upstream.getresponse()
            content = answer.read()
            self.send_response(answer.status, answer.reason)
            for name, value in answer.getheaders():
                if name.lower() not in _HOP_BY_HOP:
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(content)))
            self.end_headers()
            self.wfile.write(content)
        finally:
            upstream.close()

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _forward

    def log_message(self, *args) -> None:
        pass


class NginxLikeProxy:
    """``with NginxLikeProxy(app_port) as proxy:`` then talk to ``proxy.port``."""

    def __init__(self, upstream_port: int) -> None:
        handler = type("Forward", (_Forward,), {"upstream_port": upstream_port})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> NginxLikeProxy:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
