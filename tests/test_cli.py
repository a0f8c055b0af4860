"""The `practicum` command: version, help on every subcommand, exit codes."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from practicum import __version__
from practicum.cli import app, main


def _subcommands() -> list[str]:
    import typer.main

    group = typer.main.get_command(app)
    return sorted(group.commands)  # type: ignore[attr-defined]


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"practicum {__version__}"


@pytest.mark.parametrize("command", _subcommands())
def test_every_subcommand_has_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([command, "--help"]) == 0
    assert "Usage: practicum" in capsys.readouterr().out


def test_unknown_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["no-such-command"]) == 2
    assert "No such command" in capsys.readouterr().err


def test_user_error_is_one_line_with_exit_code_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["envs", "--domain", "space[1]"]) == 2
    err = capsys.readouterr().err.strip()
    assert re.fullmatch(r"error: unknown domain 'space\[1\]'; use --domain web or --domain game", err)


def test_console_script_runs_in_a_subprocess() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "practicum.cli", "--version"], capture_output=True, text=True, check=True
    )
    assert __version__ in out.stdout


def test_store_info_and_runs_show_what_the_store_holds(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:
    from practicum.provenance import run_record
    from practicum.store import open_store

    url = f"sqlite:///{tmp_path / 'p.db'}"
    record = run_record({"suite": "frozenlake-4x4"}, {"global": 3}, argv=["practicum", "practice"])
    with open_store(url) as store:
        run_id = store.create_run(
            name="first",
            config=record["config"],
            seeds=record["seeds"],
            command=record["command"],
            versions=record["versions"],
            git_rev="abc123",
        )
    assert main(["store", "info", "--db", url]) == 0
    out = capsys.readouterr().out
    assert re.search(r"runs\s+│\s+1\b", out) and "schema revision" in out
    assert main(["runs", "--db", url]) == 0
    assert "first" in capsys.readouterr().out
    assert main(["runs", str(run_id), "--db", url]) == 0
    out = capsys.readouterr().out
    assert "frozenlake-4x4" in out and "abc123" in out and "practicum practice" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["runs", "42"], "run 42 does not exist"),
        (["runs", "--db", "sqlite:///{tmp}/missing.db"], "no store at"),
        (["store", "info", "--db", "sqlite:///{tmp}/no/such/dir/p.db"], "does not exist"),
        (["runs", "--db", "postgresql://u@host:notaport/x"], "malformed"),
        (["runs", "--db", "{tmp}/missing.db"], "no store at"),  # a plain path names a SQLite file
        (["runs", "--db", "postgresql://u@127.0.0.1:1/x"], "cannot open the store"),
    ],
)
def test_store_errors_are_one_line_and_write_nothing(
    tmp_path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    from practicum.store import open_store

    url = f"sqlite:///{tmp_path / 'p.db'}"
    open_store(url).close()
    before = sorted(p.name for p in tmp_path.iterdir())
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    if "--db" not in args:
        args += ["--db", url]
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and message in err and "\n" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_store_url_turns_a_file_path_into_a_sqlite_url_and_keeps_a_url(tmp_path, monkeypatch) -> None:
    from practicum.store import store_url

    monkeypatch.chdir(tmp_path)
    assert store_url("runs/p.db") == f"sqlite:///{tmp_path / 'runs' / 'p.db'}"  # absolute: sqlite:////tmp/...
    assert store_url(str(tmp_path / "p.db")) == f"sqlite:///{tmp_path / 'p.db'}"
    monkeypatch.setenv("HOME", str(tmp_path))
    assert store_url("~/p.db") == f"sqlite:///{tmp_path / 'p.db'}"
    for url in ("sqlite:///p.db", "sqlite://", "postgresql://u:pw@host/db", "postgresql+psycopg://h/d"):
        assert store_url(url) == url


def test_db_takes_a_plain_file_path_in_every_command(
    tmp_path, monkeypatch, capsys: pytest.CaptureFixture[str], tiny_model_dir
) -> None:
    from practicum.store import open_store
    from practicum.trainer.rounds import register_base_policy

    path = tmp_path / "p.db"
    with open_store(f"sqlite:///{path}") as store:
        store.finish_run(store.create_run(name="by-path"), status="finished")
        policy = register_base_policy(store, tiny_model_dir)
    assert main(["store", "info", "--db", str(path)]) == 0
    assert "schema revision" in capsys.readouterr().out
    monkeypatch.chdir(tmp_path)
    assert main(["runs", "--db", "p.db"]) == 0  # relative to the working directory
    assert "by-path" in capsys.readouterr().out
    assert main(["export", str(policy), "--out", "exported", "--db", "p.db"]) == 0
    assert (tmp_path / "exported" / "model" / "config.json").is_file()
    assert main(["doctor", "--db", "p.db", "--no-browser", "--no-model", "--no-stockfish"]) == 0
    assert main(["runs", "--db", f"sqlite:///{path}"]) == 0  # a URL works as before


def test_envs_lists_every_domain_and_a_user_task_file(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:
    tasks = tmp_path / "tasks.yaml"
    tasks.write_text(
        "suite: my-tasks\n"
        "tasks:\n"
        "  - id: home\n"
        "    start_url: http://127.0.0.1:1/\n"
        "    goal: Find the home page.\n"
        "    success: {url_contains: /}\n"
    )
    assert main(["envs", "--tasks", str(tasks)]) == 0
    out = capsys.readouterr().out
    assert "my-tasks" in out and "frozenlake-4x4" in out and "shop" in out
    assert main(["envs", "--tasks", str(tmp_path / "missing.yaml")]) == 2
    assert "does not exist" in capsys.readouterr().err


@pytest.mark.parametrize("columns", ["80", None], ids=["COLUMNS=80", "piped"])
def test_envs_at_80_columns_or_piped_keeps_every_column_readable(columns: str | None) -> None:
    import os

    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    if columns is not None:
        env["COLUMNS"] = columns
    out = subprocess.run(  # a pipe, not a terminal: rich falls back to COLUMNS or 80
        [sys.executable, "-m", "practicum.cli", "envs"], capture_output=True, text=True, check=True, env=env
    ).stdout
    lines = out.splitlines()
    assert max(len(line) for line in lines) <= 80
    header = next(line for line in lines if line.startswith("┃"))
    assert [cell.strip() for cell in header.strip("┃").split("┃")] == [
        "suite",
        "domain",
        "train",
        "validation",
        "test",
        "example goal",
    ]
    row = next(line for line in lines if "frozenlake-4x4 " in line)
    cells = [cell.strip() for cell in row.strip("│").split("│")]
    assert cells[:5] == ["frozenlake-4x4", "game", "100000", "1000", "1000"]
    assert cells[5].startswith("Reach the goal") and (cells[5].endswith("…") or cells[5].endswith("."))
