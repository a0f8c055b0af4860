"""`practicum doctor` on real stores: a healthy one passes, each kind of damage is found and named with a fix."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from practicum.cli import main
from practicum.doctor import Check, check_installation, check_store
from practicum.errors import StoreError
from practicum.store import open_store
from tests.store.factories import make_episode

NO_INSTALL = ["--no-browser", "--no-model", "--no-stockfish"]


def healthy_store(path: Path) -> str:
    url = f"sqlite:///{path}"
    with open_store(url) as store:
        run = store.create_run(config={}, seeds={})
        policy = store.register_policy(name="p0", base_model="tiny", checkpoint_path=str(path.parent), iteration=0)
        for seed in range(3):
            store.write_episode(make_episode(run, policy_id=policy, uid=f"e{seed}", n_nodes=7))
        store.finish_run(run, status="finished")
    return url


def failed(checks: list[Check]) -> dict[str, Check]:
    return {c.name: c for c in checks if not c.ok}


def test_a_healthy_store_passes_every_check_and_the_cli_exits_zero(tmp_path: Path) -> None:
    url = healthy_store(tmp_path / "ok.db")
    checks = list(check_store(url))
    assert {c.name for c in checks} >= {"schema", "sqlite integrity", "orphan nodes", "whole episodes", "checkpoints"}
    assert failed(checks) == {}
    assert main(["doctor", "--db", url, *NO_INSTALL]) == 0


def test_damage_is_found_and_each_problem_names_its_fix(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "bad.db"
    url = healthy_store(db)
    con = sqlite3.connect(db)
    con.execute("PRAGMA foreign_keys = OFF")  # what a crash or another tool could leave behind
    con.execute("DELETE FROM nodes WHERE episode_id = 1 AND idx > 3")  # half an episode's tree
    con.execute("DELETE FROM episodes WHERE id = 2")  # its nodes stay: orphans
    con.execute("UPDATE runs SET status = 'running'")
    con.execute("UPDATE policies SET checkpoint_path = '/nonexistent/ckpt'")
    con.commit()
    con.close()

    problems = failed(list(check_store(url)))
    assert set(problems) >= {"orphan nodes", "whole episodes", "sqlite integrity", "running runs", "checkpoints"}
    assert "1 episodes whose node_count differs" in problems["whole episodes"].detail
    assert "DELETE FROM nodes" in problems["orphan nodes"].fix
    assert "practicum practice --resume 1" in problems["running runs"].fix
    assert "/nonexistent/ckpt" in problems["checkpoints"].detail
    assert all(p.fix for p in problems.values())

    assert main(["doctor", "--db", url, *NO_INSTALL]) == 1
    out = capsys.readouterr().out
    assert "problem(s) found" in out and "orphan nodes" in out
    # Read-only: the damage is reported, not repaired behind the user's back.
    assert failed(list(check_store(url))).keys() == problems.keys()


def stamp(db: Path, revision: str) -> None:
    """Write `revision` into a store's alembic_version, as a store of another practicum would carry."""
    with sqlite3.connect(db) as con:
        con.execute("UPDATE alembic_version SET version_num = ?", (revision,))
    con.close()


def test_a_newer_or_missing_store_is_reported_not_opened(tmp_path: Path) -> None:
    db = tmp_path / "new.db"
    url = healthy_store(db)
    stamp(db, "9999_future")
    [schema] = list(check_store(url))
    assert not schema.ok and "newer" in schema.detail and "upgrade practicum" in schema.fix
    assert main(["doctor", "--db", url, *NO_INSTALL]) == 1  # a finding about a store it could read
    with pytest.raises(StoreError, match="no store at"):
        check_store(f"sqlite:///{tmp_path / 'none.db'}")
    assert not (tmp_path / "none.db").exists()


def test_an_older_store_is_a_finding_whose_fix_is_store_upgrade(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    url = healthy_store(db)
    stamp(db, "0004_sample_mode")
    before = db.read_bytes()
    problems = failed(check_store(url))
    assert f"practicum store upgrade --db {url}" in problems["schema"].fix
    assert db.read_bytes() == before  # reported, not upgraded


def other_programs_file(path: Path) -> Path:
    with sqlite3.connect(path) as con:
        con.execute("CREATE TABLE users (name TEXT)")
    con.close()
    return path


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (other_programs_file, "holds another program's tables (users) and no practicum store"),
        (lambda path: path.touch() or path, "holds no practicum store; run `practicum practice --db"),
        (lambda path: path, "no store at"),
    ],
    ids=["another-program", "empty-file", "missing-file"],
)
def test_a_db_that_holds_no_practicum_store_is_bad_input_exit_2_and_untouched(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], make: Callable[[Path], Path], message: str
) -> None:
    path = make(tmp_path / "app.db")
    before = path.read_bytes() if path.exists() else None
    assert main(["doctor", "--db", f"sqlite:///{path}", *NO_INSTALL]) == 2
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert err.startswith("error: ") and message in " ".join(err.split()) and "\n" not in err
    assert "practicum doctor" not in captured.out  # nothing was checked: no table of findings
    assert (path.read_bytes() if path.exists() else None) == before
    assert [p.name for p in tmp_path.iterdir()] == ([path.name] if before is not None else [])


def test_stockfish_answers_the_handshake() -> None:
    [found] = list(check_installation(browser=False, model=False))
    assert found.ok, found
    assert "Stockfish" in found.detail


@pytest.mark.browser
def test_chromium_starts_and_renders_a_page() -> None:
    [found] = list(check_installation(model=False, stockfish=False))
    assert found.ok, found
    assert "renders pages" in found.detail
