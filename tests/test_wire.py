"""What goes out on the wire is the same with linesman as without, byte for byte,
for every kind of body an app returns, under real servers that set
``Content-Length`` themselves from a one-item body (waitress, wsgiref)."""

from __future__ import annotations

import os
import re
import socket

import pytest
from support.response_kinds import KINDS
from support.servers import HERE, free_port, running, wait_for_port
from support.waiting import wait_for

from linesman.backends.sqlite import SqliteBackend

SERVER = os.path.join(HERE, "support", "response_kinds.py")
DATE = re.compile(rb"^Date: [^\r\n]*\r\n", re.MULTILINE)


def raw_response(port: int, path: str, method: str = "GET") -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(
            f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode()
        )
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    return DATE.sub(b"", received)


@pytest.mark.server
@pytest.mark.parametrize("server", ["waitress", "wsgiref"])
def test_every_kind_of_body_goes_out_unchanged(server, tmp_path):
    store = tmp_path / "sessions.db"
    bare, profiled = free_port(), free_port()
    with running([SERVER, server, str(store), str(bare), str(profiled)], profiled) as process:
        wait_for_port(bare, process)
        differ = {}
        for kind in KINDS:
            for method in ("GET", "HEAD"):
                expected = raw_response(bare, f"/{kind}", method)
                got = raw_response(profiled, f"/{kind}", method)
                assert expected.startswith(b"HTTP/1.")
                if got != expected:
                    differ[f"{method} {kind}"] = (expected, got)
        assert differ == {}
        backend = SqliteBackend(filename=str(store))
        try:
            wait_for(lambda: backend.count() == 2 * len(KINDS), what="every request stored")
        finally:
            backend.close()
