"""``.prof`` files as users bring them: what cProfile and pstats write loads, and a
file that names one callers table from many entries (marshal's references) is
refused before anything is built, as is one denser than pstats ever writes."""

from __future__ import annotations

import cProfile
import importlib.util
import marshal
import os
import pstats
import struct
import subprocess
import sys
import tracemalloc
from pathlib import Path

import pytest
from support.servers import free_port

from linesman.exporters.formats import from_pstats, read_prof
from linesman.model.prof_scan import MAX_EXPANSION, MIN_BYTES_PER_ENTRY, check_marshal

FIGURES = (1, 1, 0.5, 0.5)


def label(number: int) -> tuple[str, int, str]:
    return ("a.py", number, "f")


def shared_callers(functions: int, callers: int) -> bytes:
    """A table whose every entry names one callers dict of ``callers`` entries:
    marshal (version 3 on) writes that dict once and a five-byte reference to it
    at every other entry. Loaded, it is ``functions * callers`` caller rows."""
    labels = [label(n) for n in range(max(functions, callers))]
    shared = {labels[n]: FIGURES for n in range(callers)}
    data = marshal.dumps({labels[n]: (*FIGURES, shared) for n in range(functions)})
    loaded = marshal.loads(data)
    assert loaded[label(0)][4] is loaded[label(functions - 1)][4], "the dict is not shared"
    return data


def plain(value: object) -> bytes:
    """A value's marshal bytes with no reference flags (version 2 has none)."""
    return marshal.dumps(value, 2)


def reference(index: int) -> bytes:
    return b"r" + struct.pack("<I", index)


def flagged(value: object) -> bytes:
    """A container with marshal's reference flag set: the next reference slot."""
    data = plain(value)
    return bytes([data[0] | 0x80]) + data[1:]


def entry(number: int, callers: bytes) -> bytes:
    """One pstats entry (label, then the five-tuple) with the callers dict given as bytes."""
    figures = b"".join(plain(figure) for figure in FIGURES)
    return plain(label(number)) + b")\x05" + figures + callers


def table(*entries: bytes) -> bytes:
    return b"{" + b"".join(entries) + b"0"


def shared_after_a_flag_without_slot(functions: int, first: bytes, index: int) -> bytes:
    """By hand: the first entry's callers (``first``) hold a flagged value marshal
    keeps no slot for (a walk that counted one would take the shared dict's slot
    for it), a later entry repeats the first label with an honest value (marshal
    keeps the last value, so every entry checks out), and every other entry names
    the dict in slot ``index``."""
    callers = {label(n): FIGURES for n in range(functions)}
    rows = [entry(0, first), entry(1, flagged(callers))]
    rows += [entry(n, reference(index)) for n in range(2, functions)]
    rows.append(entry(0, plain({})))
    data = table(*rows)
    loaded = marshal.loads(data)
    assert loaded[label(1)][4] is loaded[label(2)][4] and loaded[label(0)][4] == {}
    return data


def crafted_files() -> dict[str, bytes]:
    callers = {label(n): FIGURES for n in range(300)}
    shared_entry = (*FIGURES, callers)
    return {
        "marshal.dumps": shared_callers(300, 300),
        "by hand": table(
            entry(0, flagged(callers)), *(entry(n, reference(0)) for n in range(1, 300))
        ),
        # {True: None}, True flagged.
        "after a flagged True": shared_after_a_flag_without_slot(300, b"{\xd4N0", 0),
        # {"x": None, "x": None}, "x" (slot 0) the second time a flagged reference.
        "after a flagged reference": shared_after_a_flag_without_slot(
            300, b"{\xda\x01xN\xf2" + struct.pack("<I", 0) + b"N0", 1
        ),
        "a shared five-tuple": b"{"
        + plain(label(0))
        + flagged(shared_entry)
        + b"".join(plain(label(n)) + reference(0) for n in range(1, 300))
        + b"0",
        "a shared list": b"[\x03\x00\x00\x00" + flagged([1] * 100) + reference(0) + reference(0),
        "a tuple holding itself": b"\xa9\x01" + reference(0),
    }


@pytest.mark.parametrize("name", list(crafted_files()))
def test_a_container_named_twice_is_refused(name):
    data = crafted_files()[name]
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match=r"^not a \.prof file \((one dict|a reference to)"):
            from_pstats(read_prof(data))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # Refused by the walk, before marshal built the table (90,000 rows unfixed).
    assert peak < 2 << 20, f"{peak / 1e6:.1f} MB to refuse {len(data)} bytes"


def test_a_large_crafted_file_is_refused_with_little_memory():
    """190 KB that were 12 million caller rows: 88 s and 2 GB before the fix."""
    data = shared_callers(3500, 3500)
    assert 180_000 < len(data) < 200_000
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match="named in several places"):
            read_prof(data)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 << 20, f"{peak / 1e6:.1f} MB"


# -- what may be shared, and how much it may stand for ----------------------------------
def test_a_table_sharing_one_figures_tuple_is_denser_than_pstats_writes():
    """Every label and one figures tuple shared: ten bytes an entry, where
    cProfile's files spend 48 to 57 (27 at the least), so a legitimate-looking
    file could hold five times the rows of a real one its size."""
    labels = [label(n) for n in range(300)]
    callers = [{labels[m]: FIGURES for m in range(n, n + 100)} for n in range(200)]
    data = marshal.dumps({labels[n]: (*FIGURES, callers[n]) for n in range(200)})
    assert len(data) < 20_000 * MIN_BYTES_PER_ENTRY  # 20,000 caller rows
    with pytest.raises(ValueError, match="denser than pstats writes"):
        read_prof(data)


def test_a_table_sharing_labels_and_numbers_loads():
    """Shared labels, ints and floats (as pstats may write them) in distinct figures."""
    labels = [label(n) for n in range(300)]
    one, half = 1, 0.5
    callers = [{labels[m]: (one, one, half, half) for m in range(n, n + 100)} for n in range(200)]
    data = marshal.dumps({labels[n]: (one, one, half, half, callers[n]) for n in range(200)})
    entries = 200 + 200 * 100
    assert len(data) < 30 * entries  # as dense as a pstats table gets
    session = from_pstats(read_prof(data))
    assert len(session.calls) == sum(1 for n in range(200) for m in range(n, n + 100) if m < 200)


@pytest.mark.parametrize("shared", [tuple(range(1000, 1255)), "/srv/" + "deep/" * 2000])
def test_a_shared_value_counts_as_what_it_stands_for(shared):
    """A 255-item tuple or a 10 KB path named 10,000 times: 50 KB that stand for
    13 MB or 100 MB (a path is copied into the key of every row that names it)."""
    data = b"[" + struct.pack("<i", 10_001) + flagged(shared) + reference(0) * 10_000
    loaded = marshal.loads(data)
    assert loaded[0] is loaded[-1]
    with pytest.raises(ValueError, match=f"more than {MAX_EXPANSION} times its size"):
        check_marshal(data)


def test_a_long_path_shared_by_every_label_is_refused():
    """The same as a table: every label of 2,000 names one 20 KB path."""
    path = "/srv/" + "deep/" * 4000
    labels = [(path, n, "f") for n in range(2000)]
    data = marshal.dumps(
        {labels[n]: (n, n, 0.5, 0.5, {labels[n - 1]: FIGURES}) for n in range(2000)}
    )
    assert len(data) < 200_000 and len(labels) * len(path) > 40_000_000
    with pytest.raises(ValueError, match=f"more than {MAX_EXPANSION} times its size"):
        read_prof(data)


# -- real files ---------------------------------------------------------------------------
def workload() -> None:
    import json
    import textwrap

    def fib(n: int) -> int:
        return n if n < 2 else fib(n - 1) + fib(n - 2)

    for number in range(50):
        json.loads(json.dumps({"n": number, "items": list(range(number))}))
        textwrap.fill("word " * number, 30)
    fib(15)


def real_files(folder: Path) -> dict[str, Path]:
    """What cProfile and pstats write on this Python, as users bring them."""
    profile = cProfile.Profile()
    profile.enable()
    workload()
    profile.disable()
    dumped = folder / "dumped.prof"
    profile.dump_stats(str(dumped))
    pstats.Stats(str(dumped)).dump_stats(str(folder / "redumped.prof"))
    other = cProfile.Profile()
    other.runcall(sorted, range(1000))
    other.dump_stats(str(folder / "other.prof"))
    merged = pstats.Stats(str(dumped), str(folder / "other.prof"))
    merged.strip_dirs().dump_stats(str(folder / "merged.prof"))
    deep = folder.joinpath(*["a-folder-deep-in-a-build-tree"] * 14)  # a 400-character path
    deep.mkdir(parents=True)
    source = "".join(f"def f{n}():\n    return g() + f{n + 1}()\n" for n in range(30))
    source += "def f30():\n    return g()\ndef g():\n    return 1\n"
    (deep / "deep_module.py").write_text(source)
    spec = importlib.util.spec_from_file_location("deep_module", deep / "deep_module.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert len(module.__file__) > 400
    deep_profile = cProfile.Profile()
    deep_profile.runcall(lambda: [module.f0() for _ in range(20)])
    deep_profile.dump_stats(str(folder / "deep.prof"))
    script = folder / "script.py"
    script.write_text("import json\nfor n in range(100):\n    json.dumps(list(range(n)))\n")
    command = [sys.executable, "-m", "cProfile", "-o", str(folder / "command.prof"), str(script)]
    subprocess.run(command, check=True, timeout=60)
    return {path.stem: path for path in sorted(folder.glob("*.prof"))}


def test_what_cprofile_and_pstats_write_loads(tmp_path):
    files = real_files(tmp_path)
    assert set(files) == {"dumped", "redumped", "other", "merged", "command", "deep"}
    for name, path in files.items():
        data = path.read_bytes()
        stats = read_prof(data)
        assert stats == pstats.Stats(str(path)).stats, name
        session = from_pstats(stats)
        assert session.functions and (session.calls or name == "other"), name
        callers = [caller for value in stats.values() for caller in value[4]]
        # ("other" has no callers; strip_dirs makes a new label at each mention.)
        if name not in ("merged", "other"):
            # cProfile shares its labels: one label object in several callers dicts.
            assert len({id(caller) for caller in callers}) < len(callers), name
        # Well inside the bound on entries.
        assert len(data) > 2 * MIN_BYTES_PER_ENTRY * (len(stats) + len(callers)), name


# -- the command line -------------------------------------------------------------------
def linesman(*args: str, folder: Path) -> subprocess.CompletedProcess:
    """The command within 1 GB of address space (unfixed, the 190 KB file asked
    for 2.7 GB), its temporary files in ``folder``."""
    import resource

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))

    return subprocess.run(
        [sys.executable, "-m", "linesman", *args],
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=limit,
        env={**os.environ, "TMPDIR": str(folder)},
    )


@pytest.mark.parametrize("command", ["import", "view"])
def test_the_commands_refuse_a_crafted_file_in_one_line(tmp_path, command):
    crafted = tmp_path / "crafted.prof"
    crafted.write_bytes(shared_callers(3500, 3500))
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    store = tmp_path / "s.db"
    args = ["import", str(store), str(crafted)] if command == "import" else ["view", str(crafted)]
    if command == "view":
        args.extend(["--port", str(free_port())])
    result = linesman(*args, folder=scratch)
    assert result.returncode == 1, result.stderr
    assert result.stderr.startswith(f"linesman {command}: {crafted}: not a .prof file (one dict")
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert list(scratch.iterdir()) == [], "a refused file left its temporary store"
