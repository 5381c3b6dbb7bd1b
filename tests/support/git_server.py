"""dulwich's git server (its own WSGI app, as its users serve it) under waitress,
twice: bare, and behind linesman, with a byte counter between waitress and
linesman so the test knows what each response really sent.

Run as a script: ``python git_server.py REPO STORE SENT_LOG BARE_PORT PROFILED_PORT
[ENDPOINT_QUERY]``. SENT_LOG gets one JSON line per finished profiled response:
method, path, query and the bytes the server was handed (through ``write()`` and
the body alike).
"""

from __future__ import annotations

import json
import sys
import threading


class SentBytes:
    """Counts what the app hands the server, by either road, and logs it once the
    body is closed; passes everything on as it is."""

    def __init__(self, app, log_path: str) -> None:
        self.app = app
        self.log_path = log_path
        self.lock = threading.Lock()

    def __call__(self, environ, start_response):
        sent = [0]

        def counting_start_response(status, headers, exc_info=None):
            write = start_response(status, headers, exc_info)

            def counting_write(data):
                sent[0] += len(data)
                return write(data)

            return counting_write

        body = self.app(environ, counting_start_response)
        try:
            for chunk in body:
                sent[0] += len(chunk)
                yield chunk
        finally:
            close = getattr(body, "close", None)
            if close is not None:
                close()
            line = {
                "method": environ["REQUEST_METHOD"],
                "path": environ.get("PATH_INFO", ""),
                "query": environ.get("QUERY_STRING", ""),
                "sent": sent[0],
            }
            with self.lock, open(self.log_path, "a") as log:
                log.write(json.dumps(line) + "\n")


def _serve(app, port: int) -> None:
    import waitress

    waitress.serve(app, host="127.0.0.1", port=port, threads=4, _quiet=True)


def main(repo_path: str, store: str, log_path: str, bare_port: int, profiled_port: int, query=""):
    from dulwich.repo import Repo
    from dulwich.server import DictBackend
    from dulwich.web import make_wsgi_chain

    from linesman.middleware import ProfilingMiddleware

    def git_app():
        return make_wsgi_chain(DictBackend({"/": Repo(repo_path)}))

    threading.Thread(target=_serve, args=(git_app(), bare_port), daemon=True).start()
    profiled = ProfilingMiddleware(git_app(), filename=store, endpoint_query=query)
    _serve(SentBytes(profiled, log_path), profiled_port)


if __name__ == "__main__":
    main(*sys.argv[1:4], int(sys.argv[4]), int(sys.argv[5]), *sys.argv[6:7])
