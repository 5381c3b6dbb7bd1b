"""A check of a ``.prof`` file's marshal stream before ``marshal.loads`` reads it.

``marshal.loads`` allocates what the stream claims before reading it: six
bytes (``{(`` and a count of 2**31 - 1) make it ask for a 16 GB tuple. This
walks the stream without building anything and refuses a container or a string
that claims more items or bytes than the stream has left, and every type a
pstats table never holds (code objects above all). What passes is at most a
few times the file's size in memory. The walk is a loop with its own stack,
not recursion, so no nesting depth can overflow it.
"""

from __future__ import annotations

import struct

__all__ = ["check_marshal", "MAX_PROF_BYTES"]

MAX_PROF_BYTES = 256 << 20
_FLAG_REF = 0x80
_FIXED = {
    ord("0"): 0,
    ord("N"): 0,
    ord("F"): 0,
    ord("T"): 0,
    ord("i"): 4,
    ord("g"): 8,
    ord("y"): 16,
}
_SIZED_4 = {ord(code) for code in "stuaA"}  # 4-byte length, then that many bytes
_SIZED_1 = {ord("z"), ord("Z"), ord("f")}  # 1-byte length, then that many bytes
_SEQUENCES = {ord("("), ord("["), ord("<"), ord(">")}  # 4-byte count, then the items


def check_marshal(data: bytes) -> None:
    """ValueError when ``data`` is not a marshal stream safe to load as a pstats table."""
    if len(data) > MAX_PROF_BYTES:
        raise ValueError(f"larger than {MAX_PROF_BYTES >> 20} MB")
    position, references = 0, 0
    pending = [1]  # objects still to read at each open level; a dict level is -1

    def need(count: int) -> None:
        if count < 0 or position + count > len(data):
            raise ValueError("it claims more than the file holds")

    def int32() -> int:
        need(4)
        return struct.unpack_from("<i", data, position)[0]

    while pending:
        if pending[-1] == 0:
            pending.pop()
            continue
        need(1)
        code = data[position] & ~_FLAG_REF
        if data[position] & _FLAG_REF:
            references += 1
        position += 1
        if pending[-1] > 0:
            pending[-1] -= 1
        elif code == ord("0"):  # the NULL that ends a dict
            pending.pop()
            continue
        if code in _FIXED:
            need(_FIXED[code])
            position += _FIXED[code]
        elif code in _SIZED_4:
            size = int32()
            position += 4
            need(size)
            position += size
        elif code in _SIZED_1:
            need(1)
            size = data[position]
            need(1 + size)
            position += 1 + size
        elif code == ord("l"):
            digits = abs(int32())
            position += 4
            need(2 * digits)
            position += 2 * digits
        elif code == ord("r"):
            if not 0 <= int32() < references:
                raise ValueError("a reference to nothing")
            position += 4
        elif code == ord(")"):
            need(1)
            count = data[position]
            position += 1
            need(count)
            pending.append(count)
        elif code in _SEQUENCES:
            count = int32()
            position += 4
            need(count)
            pending.append(count)
        elif code == ord("{"):
            pending.append(-1)
        else:
            raise ValueError(f"a value of marshal type {chr(code)!r}, which pstats never writes")
    if position != len(data):
        raise ValueError("data after its end")
