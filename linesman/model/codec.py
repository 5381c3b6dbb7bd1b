"""Session <-> stored bytes, shared by the backends that keep documents.

Documents are JSON (never pickle: a store must not be able to run code),
compressed with zlib since profiles repeat file names heavily. JSON writes
floats with their shortest exact repr, so figures come back unchanged.

Encoding runs once per stored session, in the writer beside the app's
requests: orjson writes a small session's JSON in a tenth of the time of the
standard library's, and zlib's fastest level compresses it in a quarter of the
time of its default for a document a sixth larger (a session of 110 functions:
12 KB of JSON, 2.6 KB stored, against 2.3 KB at level 6).
"""

from __future__ import annotations

import json
import math
import operator
import zlib

import orjson

from linesman.model.gc_pause import paused_gc
from linesman.model.session import ProfilingSession, SessionFormatError

__all__ = ["encode_session", "decode_session"]

_ZLIB_LEVEL = 1
MAX_DOCUMENT_BYTES = 64 << 20  # a 50,000-function session is about 20 MB of JSON
_FIGURES = tuple(map(operator.itemgetter, (3, 4, 5, 6)))  # of a function row
_CALL_FIGURES = tuple(map(operator.itemgetter, (2, 3, 4, 5)))  # of a pair row


def encode_session(session: ProfilingSession) -> bytes:
    document = session.to_dict()
    if _finite(document):
        text = orjson.dumps(document)
    else:  # orjson would write a NaN as null: the standard library refuses it
        text = json.dumps(
            document, separators=(",", ":"), ensure_ascii=False, allow_nan=False
        ).encode("utf-8")
    return zlib.compress(text, _ZLIB_LEVEL)


def _finite(document: dict) -> bool:
    """Whether every figure of the document is a finite number, in a few C loops:
    a sum is finite only if each term is (or, past 1e308, says no wrongly, and the
    strict encoder then decides). Anything that is not a number is left to the
    encoders, as are the summary's figures (checked before a session is stored)."""
    try:
        total = math.fsum(
            sum(map(figure, rows))
            for rows, figures in (
                (document["functions"], _FIGURES),
                (document["calls"], _CALL_FIGURES),
            )
            for figure in figures
        )
        total += sum(stack[2] for stack in document["stacks"] or ())
        total += document["interval"] or 0.0
    except (TypeError, OverflowError):
        return False
    return math.isfinite(total)


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
