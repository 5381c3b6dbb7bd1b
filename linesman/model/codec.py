"""Session <-> stored bytes, shared by the backends that keep documents.

Documents are JSON (never pickle: a store must not be able to run code),
compressed with zlib since profiles repeat file names heavily. JSON writes
floats with their shortest exact repr, so figures come back unchanged.
"""

from __future__ import annotations

import json
import zlib

import orjson

from linesman.model.gc_pause import paused_gc
from linesman.model.session import ProfilingSession, SessionFormatError

__all__ = ["encode_session", "decode_session"]

_ZLIB_LEVEL = 6
MAX_DOCUMENT_BYTES = 64 << 20  # a 50,000-function session is about 20 MB of JSON


def encode_session(session: ProfilingSession) -> bytes:
    text = json.dumps(session.to_dict(), separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return zlib.compress(text.encode("utf-8"), _ZLIB_LEVEL)


def _inflate(data: bytes) -> bytes:
    """zlib's output, refused past MAX_DOCUMENT_BYTES: a stored row may be a bomb."""
    inflater = zlib.decompressobj()
    text = inflater.decompress(data, MAX_DOCUMENT_BYTES)
    if inflater.unconsumed_tail:
        raise SessionFormatError(
            f"session document larger than {MAX_DOCUMENT_BYTES >> 20} MB once inflated"
        )
    return text + inflater.flush()


def decode_session(data: bytes) -> ProfilingSession:
    with paused_gc():
        try:
            # orjson reads twice as fast as json, refuses NaN and bounds nesting.
            document = orjson.loads(_inflate(bytes(data)))
        except (zlib.error, ValueError, TypeError, RecursionError) as exc:
            raise SessionFormatError(f"undecodable session document: {exc}") from None
        if not isinstance(document, dict):
            raise SessionFormatError("session document is not an object")
        return ProfilingSession.from_dict(document)
