"""A check of a ``.prof`` file's marshal stream before ``marshal.loads`` reads it.

``marshal.loads`` allocates what the stream claims before reading it: six
bytes (``{(`` and a count of 2**31 - 1) make it ask for a 16 GB tuple. This
walks the stream without building anything and refuses a container or a string
that claims more items or bytes than the stream has left, and every type a
pstats table never holds (code objects above all). The walk is a loop with its
own stack, not recursion, so no nesting depth can overflow it.

A stream may also name an object it holds already (marshal's references, five
bytes each): ``marshal.loads`` then shares the object, but whoever walks the
table meets it again at every mention. One callers dict named by each of 3,500
entries made a 190 KB file into 12 million caller rows (88 s and 2 GB before
anything was stored). pstats shares only strings, numbers and its ``(file,
line, name)`` labels (measured on files cProfile wrote on 3.11 to 3.13), so a
reference to anything else is refused: a dict, a list, a set, or a tuple that
holds one. What is left still expands (a long path named by every label is
copied into every row's key), so the walk also measures the stream as it would
be written out with every reference replaced by what it names, and counts the
entries of every dict (the rows ``from_pstats`` makes); a file for which either
is out of proportion to its size is refused.
"""

from __future__ import annotations

import struct

__all__ = ["check_marshal", "MAX_PROF_BYTES", "MAX_EXPANSION", "MIN_BYTES_PER_ENTRY"]

MAX_PROF_BYTES = 256 << 20
# Written out with every reference replaced by what it names, cProfile's files
# are 1.2 to 2.1 times their size (measured on 3.11 to 3.13), 5 times with paths
# of 180 characters, 10 with 400: 32 leaves room for paths of 1,300.
MAX_EXPANSION = 32
# cProfile's files spend 48 to 57 bytes on each entry (a function's or a
# caller's: a label and four figures), 27 at the least when every label and
# number is shared; a file denser than this shares whole figures, which pstats
# never does.
MIN_BYTES_PER_ENTRY = 16

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
_NO_SLOT = {ord(code) for code in "0NFTr"}  # marshal keeps no slot for these, flag or not
_SIZED_4 = {ord(code) for code in "stuaA"}  # 4-byte length, then that many bytes
_SIZED_1 = {ord("z"), ord("Z"), ord("f")}  # 1-byte length, then that many bytes
_COUNTED_4 = {ord(code) for code in "([<>"}  # 4-byte count, then the items
_CONTAINERS = _COUNTED_4 | {ord(")"), ord("{")}
_TUPLES = {ord("("), ord(")")}
_OPEN = -1  # a reference slot whose object is still being read
_NOT_TWICE = -2  # a reference slot whose object may not be named again


class _Level:
    """A container being read: the items it still expects (None for a dict, which
    ends at a NULL), its reference slot, and what it has held so far."""

    __slots__ = ("remaining", "slot", "is_dict", "items", "size", "shareable")

    def __init__(self, remaining: int | None, code: int, slot: int | None, size: int) -> None:
        self.remaining = remaining
        self.slot = slot
        self.is_dict = code == ord("{")
        self.items = 0
        self.size = size  # its bytes written out in full, so far
        self.shareable = code in _TUPLES  # a tuple holding no dict, list or set


class _Walk:
    """The reference slots in marshal's order (what each stands for, written out
    in full, or a mark) and what the loaded table will hold, counted as a reader
    walking it meets it."""

    __slots__ = ("limit", "slots", "expanded", "entries")

    def __init__(self, size: int) -> None:
        self.limit = MAX_EXPANSION * size + 64
        self.slots: list[int] = []
        self.expanded = 0
        self.entries = 0

    def add(self, size: int) -> None:
        self.expanded += size
        if self.expanded > self.limit:
            raise ValueError(
                f"its shared values stand for more than {MAX_EXPANSION} times its size "
                f"({self.expanded:,} bytes so far)"
            )


def check_marshal(data: bytes) -> None:
    """ValueError when ``data`` is not a marshal stream safe to load as a pstats table."""
    if len(data) > MAX_PROF_BYTES:
        raise ValueError(f"larger than {MAX_PROF_BYTES >> 20} MB")
    position = 0
    walk = _Walk(len(data))
    levels = [_Level(1, 0, None, 0)]  # the stream: one object

    def need(count: int) -> None:
        if count < 0 or position + count > len(data):
            raise ValueError("it claims more than the file holds")

    def int32() -> int:
        need(4)
        return struct.unpack_from("<i", data, position)[0]

    while levels:
        level = levels[-1]
        if level.remaining == 0:
            finish(levels, walk)
            continue
        need(1)
        start = position
        code = data[position] & ~_FLAG_REF
        slot = None
        if data[position] & _FLAG_REF and code not in _NO_SLOT:
            slot = len(walk.slots)
            walk.slots.append(_OPEN)
        position += 1
        if level.remaining is not None:
            level.remaining -= 1
        elif code == ord("0"):  # the NULL that ends a dict
            level.size += 1
            walk.add(1)
            finish(levels, walk)
            continue
        level.items += 1
        if code in _CONTAINERS:
            count: int | None = None  # a dict's
            if code == ord(")"):
                need(1)
                count = data[position]
                position += 1
            elif code in _COUNTED_4:
                count = int32()
                position += 4
            need(count or 0)  # each item takes a byte at least
            levels.append(_Level(count, code, slot, position - start))
            walk.add(position - start)
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
        elif code != ord("r"):
            raise ValueError(f"a value of marshal type {chr(code)!r}, which pstats never writes")
        if code == ord("r"):
            index = int32()
            position += 4
            size = named(walk.slots, index)
        else:
            size = position - start
        if slot is not None:
            walk.slots[slot] = size
        level.size += size
        walk.add(size)
    if position != len(data):
        raise ValueError("data after its end")
    if walk.entries * MIN_BYTES_PER_ENTRY > len(data):
        raise ValueError(
            f"{walk.entries:,} table entries in {len(data):,} bytes, more than one "
            f"in {MIN_BYTES_PER_ENTRY}: denser than pstats writes"
        )


def named(slots: list[int], index: int) -> int:
    """What a reference to ``slots[index]`` stands for, written out in full;
    ValueError for a reference pstats never writes."""
    if not 0 <= index < len(slots):
        raise ValueError("a reference to nothing")
    size = slots[index]
    if size == _OPEN:
        raise ValueError("a reference to a value from inside itself")
    if size == _NOT_TWICE:
        raise ValueError(
            "one dict, list or set (or a tuple holding one) named in several places, "
            "where pstats writes each callers table once"
        )
    return size


def finish(levels: list[_Level], walk: _Walk) -> None:
    """Close the innermost container: what a reference to it stands for, what its
    parent holds, and its entries if it is a dict."""
    level = levels.pop()
    if level.slot is not None:
        walk.slots[level.slot] = level.size if level.shareable else _NOT_TWICE
    if levels:
        levels[-1].size += level.size
        levels[-1].shareable = levels[-1].shareable and level.shareable
    if level.is_dict:
        walk.entries += level.items // 2
