"""A real app where its users are: dulwich's git server (its own WSGI app) under
waitress, driven by the real ``git`` client, bare and behind linesman.

git-upload-pack sends its pack through start_response's ``write()``: the clone
must come out identical, and each session must say how many bytes went out."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections import defaultdict
from pathlib import Path

import pytest
from support.require import require
from support.servers import HERE, free_port, get, login_headers, running, wait_for_port
from support.waiting import wait_for

from linesman.backends.sqlite import SqliteBackend

SERVER = os.path.join(HERE, "support", "git_server.py")
BIG_FILE = 1_500_000  # bytes of incompressible data: a pack of megabytes, as real ones


def git(*args: str, cwd: Path | None = None, env: dict) -> str:
    result = subprocess.run(
        ["git", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, f"git {' '.join(args)}: {result.stderr}"
    return result.stdout


@pytest.fixture
def git_env(tmp_path) -> dict:
    require(shutil.which("git") is not None, "the git command (Debian package git)")
    home = tmp_path / "home"
    home.mkdir()
    return {
        **os.environ,
        "HOME": str(home),  # no user's own git config
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": "Test",
        "GIT_AUTHOR_EMAIL": "test@example.com",
        "GIT_COMMITTER_NAME": "Test",
        "GIT_COMMITTER_EMAIL": "test@example.com",
        "GIT_TERMINAL_PROMPT": "0",
    }


@pytest.fixture
def served_repo(tmp_path, git_env) -> Path:
    """A bare repository of two commits: a big binary file and fifty small ones."""
    work = tmp_path / "work"
    work.mkdir()
    git("init", "-q", "-b", "main", cwd=work, env=git_env)
    (work / "big.bin").write_bytes(os.urandom(BIG_FILE))
    git("add", ".", cwd=work, env=git_env)
    git("commit", "-q", "-m", "big", cwd=work, env=git_env)
    for number in range(50):
        (work / f"file{number}.txt").write_text(f"line {number}\n" * (number + 1))
    git("add", ".", cwd=work, env=git_env)
    git("commit", "-q", "-m", "small", cwd=work, env=git_env)
    repo = tmp_path / "served.git"
    git("clone", "-q", "--bare", str(work), str(repo), env=git_env)
    return repo


def tree_of(clone: Path, env: dict) -> tuple[str, str]:
    return git("rev-parse", "HEAD", cwd=clone, env=env), git(
        "ls-tree", "-r", "HEAD", cwd=clone, env=env
    )


@pytest.mark.server
def test_clone_and_push_through_linesman(tmp_path, git_env, served_repo):
    store = tmp_path / "sessions.db"
    sent_log = tmp_path / "sent.jsonl"
    bare, profiled = free_port(), free_port()
    args = [SERVER, str(served_repo), str(store), str(sent_log), str(bare), str(profiled)]
    with running([*args, "service"], profiled) as process:
        wait_for_port(bare, process)
        plain, through = tmp_path / "plain", tmp_path / "through"
        git("clone", "-q", f"http://127.0.0.1:{bare}/", str(plain), env=git_env)
        git("clone", "-q", f"http://127.0.0.1:{profiled}/", str(through), env=git_env)
        assert tree_of(through, git_env) == tree_of(plain, git_env)
        assert (through / "big.bin").read_bytes() == (plain / "big.bin").read_bytes()
        git("fsck", "--full", "--strict", cwd=through, env=git_env)
        # A push goes through git-receive-pack: the other info/refs endpoint.
        (through / "pushed.txt").write_text("pushed through linesman\n")
        git("add", "pushed.txt", cwd=through, env=git_env)
        git("commit", "-q", "-m", "pushed", cwd=through, env=git_env)
        git("push", "-q", "origin", "main", cwd=through, env=git_env)
        pushed = git("rev-parse", "HEAD", cwd=through, env=git_env)
        assert git("rev-parse", "main", cwd=served_repo, env=git_env) == pushed

        def sent() -> list[dict]:
            """What the git requests sent (the profiler's own pages are not profiled)."""
            lines = [json.loads(line) for line in sent_log.read_text().splitlines()]
            return [line for line in lines if not line["path"].startswith("/__profiler__")]

        # Every profiled request's session is stored.
        wait_for(
            lambda: sent_log.exists() and SqliteBackend(filename=str(store)).count() == len(sent()),
            10,
            "every session stored",
        )
        status, _, body = get(profiled, "/__profiler__/api/endpoints", headers=login_headers(store))
        assert status == 200
        endpoints = {row["endpoint"]: row["sessions"] for row in json.loads(body)["endpoints"]}

    backend = SqliteBackend(filename=str(store))
    sessions = list(backend.get_all().values())
    on_the_wire: dict[tuple, list[int]] = defaultdict(list)
    for line in sent():
        on_the_wire[(line["method"], line["path"], line["query"])].append(line["sent"])
    recorded: dict[tuple, list[int]] = defaultdict(list)
    for session in sessions:
        recorded[(session.method, session.path, session.query)].append(session.response_size)
    assert {key: sorted(sizes) for key, sizes in recorded.items()} == {
        key: sorted(sizes) for key, sizes in on_the_wire.items()
    }, "each session's response size is what went out"
    packs = recorded[("POST", "/git-upload-pack", "")]
    assert packs and max(packs) > BIG_FILE, f"the pack's size: {packs}"
    assert all(size > 0 for size in packs)
    # endpoint_query = service: fetches and pushes are endpoints of their own.
    assert endpoints.get("GET /info/refs?service={git-upload-pack}", 0) >= 1, endpoints
    assert endpoints.get("GET /info/refs?service={git-receive-pack}", 0) >= 1, endpoints
    assert "GET /info/refs" not in endpoints, endpoints
    assert {"POST /git-upload-pack", "POST /git-receive-pack"} <= set(endpoints), endpoints
    backend.close()
