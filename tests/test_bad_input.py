"""The bad-input sweep: each gives a clear error that names the fix, or a recorded invalid action, and the store
stays consistent. (Other cases live beside their component: configs in tests/loop, unknown suites in
tests/envs, endpoints that time out or return garbage in tests/agents, pages that never load in tests/envs/web.)
"""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import pytest

from practicum.cli import main
from practicum.envs.registry import get_suite
from practicum.envs.web.actions import InvalidAction, parse_action
from practicum.errors import ConfigError
from practicum.loop.config import config_from_dict
from practicum.loop.practice import practice

MEGABYTE = "x" * 1_000_000


def test_a_one_megabyte_action_is_a_recorded_invalid_action_and_the_game_goes_on() -> None:
    suite = get_suite("frozenlake-4x4")
    env = suite.make_env()
    try:
        obs, info = env.reset(options={"task": suite.tasks("train", limit=1)[0]})
        obs, reward, terminated, _, info = env.step(MEGABYTE)
        assert info["invalid_action"] and not terminated and reward == 0.0
        assert len(obs) < 10_000  # the observation quotes the bad action cut short, not the whole megabyte
        _, _, _, _, info = env.step(info["legal_actions"][0])
        assert not info.get("invalid_action")
    finally:
        env.close()


def test_a_one_megabyte_web_action_parses_as_invalid_or_bounded_without_a_crash() -> None:
    parsed = parse_action("click[" + MEGABYTE + "]")
    assert isinstance(parsed, InvalidAction) and len(parsed.message) < 1_000
    typed = parse_action("type[2][" + MEGABYTE + "]")  # well-formed: the page's own input limits decide
    assert not isinstance(typed, InvalidAction)


def test_a_model_directory_that_is_not_a_causal_lm_fails_before_any_work(tmp_path: Path) -> None:
    from transformers import DistilBertConfig, DistilBertModel

    encoder = tmp_path / "encoder"
    DistilBertModel(DistilBertConfig(n_layers=1, dim=16, hidden_dim=32, n_heads=2, vocab_size=50)).save_pretrained(
        encoder
    )
    store = tmp_path / "p.db"
    config = config_from_dict({"policy": {"model": str(encoder)}, "store": f"sqlite:///{store}"})
    with pytest.raises(ConfigError, match="not a causal language model"):
        practice(config)
    assert not store.exists()  # nothing was written
    assert main(["practice", "--model", str(encoder), "--db", f"sqlite:///{store}"]) == 2


@pytest.mark.parametrize(
    ("yaml_text", "message"),
    [
        ("suite: [unclosed", "not valid YAML"),
        ("- a list\n- not a mapping", "must hold a mapping"),
        ("iterations: -1", "iterations must be an integer >= 1"),
        ("search:\n  simulations: 0", "simulations must be >= 1"),
        ("suite: frozenlak-4x4", "Did you mean 'frozenlake-4x4'"),
        ("train:\n  data:\n    pair_value: critic", "'train.data.pair_value' must be one of 'blended', 'search'"),
        ("explore_starts: -2", "explore_starts must be an integer >= 0"),
        ("suite: miniwob-login-user\nexplore_starts: 2", "suite 'miniwob-login-user' cannot; set explore_starts to 0"),
    ],
)
def test_malformed_configs_name_the_problem_and_write_nothing(
    tmp_path: Path, yaml_text: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "run.yaml"
    path.write_text(yaml_text)
    store = tmp_path / "p.db"
    assert main(["practice", "--config", str(path), "--db", f"sqlite:///{store}"]) == 2
    assert message in " ".join(capsys.readouterr().err.split())
    assert not store.exists()


# --------------------------------------------------------------------------- stores that are not practicum's
@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty folder the test runs in, so that it can show a command wrote nothing there."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    """The command's stderr, checked to be exactly one `error:` line."""
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err, err
    return err


def snapshot(folder: Path) -> dict[str, str]:
    """Every file in `folder` with the SHA-256 of its bytes: a read must leave this exactly as it was."""
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.is_file()}


def another_programs_file(path: Path) -> None:
    with sqlite3.connect(path) as con:
        con.execute("CREATE TABLE users (name TEXT)")
        con.execute("INSERT INTO users VALUES ('ada')")
    con.close()


NOT_A_STORE = {
    "another-program": (another_programs_file, "holds another program's tables (users) and no practicum store"),
    "empty-file": (Path.touch, "holds no practicum store; run `practicum practice --db sqlite:///"),
    "missing-file": (lambda path: None, "no store at"),
}


@pytest.mark.parametrize("command", [["store", "info"], ["runs"], ["runs", "1"], ["export", "1", "--out", "o"]])
@pytest.mark.parametrize("kind", NOT_A_STORE)
def test_a_read_on_a_db_that_holds_no_practicum_store_is_refused_and_changes_no_byte(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: list[str], kind: str
) -> None:
    make, message = NOT_A_STORE[kind]
    path = tmp_path / "app.db"
    make(path)
    before = snapshot(tmp_path)
    assert main([*command, "--db", f"sqlite:///{path}"]) == 2
    assert message in one_line_error(capsys)
    assert snapshot(tmp_path) == before  # no byte changed, no table added, no file created


@pytest.mark.parametrize("kind", NOT_A_STORE)
def test_store_upgrade_refuses_what_is_not_a_practicum_store(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str
) -> None:
    make, message = NOT_A_STORE[kind]
    path = tmp_path / "app.db"
    make(path)
    before = snapshot(tmp_path)
    assert main(["store", "upgrade", "--db", f"sqlite:///{path}"]) == 2
    assert message in one_line_error(capsys)
    assert snapshot(tmp_path) == before


def test_practice_refuses_another_programs_file_rather_than_adding_its_tables(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    another_programs_file(tmp_path / "app.db")
    before = snapshot(tmp_path)
    assert main(["practice", "--db", f"sqlite:///{tmp_path / 'app.db'}", "--iterations", "1"]) == 2
    err = one_line_error(capsys)
    assert "holds another program's tables (users)" in err and "new file" in err
    assert snapshot(tmp_path) == before


def test_an_older_store_is_read_only_after_store_upgrade(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from alembic import command

    from practicum.store import make_engine, open_store
    from practicum.store.migrate import alembic_config, head_revision

    url = f"sqlite:///{tmp_path / 'old.db'}"
    open_store(url).close()
    engine = make_engine(url)
    with engine.begin() as conn:
        command.downgrade(alembic_config(conn), "0004_sample_mode")
    engine.dispose()
    before = snapshot(tmp_path)
    assert main(["store", "info", "--db", url]) == 2
    err = one_line_error(capsys)
    assert "schema revision 0004_sample_mode, older than" in err and f"practicum store upgrade --db {url}" in err
    assert snapshot(tmp_path) == before  # a read never migrates
    assert main(["store", "upgrade", "--db", url]) == 0
    assert f"upgraded from 0004_sample_mode to {head_revision()}" in capsys.readouterr().out
    assert main(["store", "info", "--db", url]) == 0


# --------------------------------------------------------------------------- task files
TASK = "{id: a, start_url: 'http://127.0.0.1:1/', goal: Go., success: {url_contains: /a}"


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        (
            "tests.yaml",
            f"tasks:\n  - {TASK}, split: test}}\n",
            "every task is a validation or test task; practice needs train tasks: mark at least one `split: train`",
        ),
        (
            "domains.yaml",
            f"tasks:\n  - {TASK}, allowed_domains: '127.0.0.1'}}\n",
            "allowed_domains must be a list of host names, got '127.0.0.1'; write it as allowed_domains: ['127.0.0.1']",
        ),
        (
            "shop.yaml",
            f"suite: shop\ntasks:\n  - {TASK}}}\n",
            "suite 'shop' is the name of a built-in suite, which a task file may not replace; name yours differently",
        ),
        ("latin1.yaml", f"tasks:\n  - {TASK}}}\n# café\n".encode("latin-1"), "is not UTF-8 text (byte 98 is"),
        ("latin1.py", "TASKS = ['café']\n".encode("latin-1"), "is not UTF-8 text"),
    ],
)
def test_a_bad_task_file_is_one_line_naming_the_file_and_the_fix(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, content: str | bytes, message: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    shop = get_suite("shop")
    assert main(["envs", "--tasks", str(path)]) == 2
    err = one_line_error(capsys)
    assert str(path) in err and message in err
    assert "latin1" not in name or "save it as UTF-8" in err
    assert get_suite("shop") is shop  # the built-in suite was not replaced


def test_envs_lists_a_suite_that_has_no_train_tasks(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from practicum.envs import registry
    from practicum.envs.web.browser import BrowserTaskSpec, Condition, browser_suite

    spec = BrowserTaskSpec("t", "http://127.0.0.1:1/", "Only a test task.", Condition(url_contains="/t"), split="test")
    monkeypatch.setitem(registry._REGISTRY, "test-only", browser_suite("test-only", [spec]))
    assert main(["envs", "--domain", "web"]) == 0
    assert "Only a test task." in capsys.readouterr().out


# --------------------------------------------------------------------------- models
def test_run_with_a_policy_path_that_does_not_exist_says_so_and_names_the_default(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "no-such-model"
    assert main(["run", "--env", "frozenlake-4x4", "--policy", str(missing)]) == 2
    err = one_line_error(capsys)
    assert f"model directory {str(missing)!r} does not exist" in err and "--policy default" in err
    assert "default_model_dir" not in err and not missing.exists()


# --------------------------------------------------------------------------- practice runs: before and after the row
NO_HELD_OUT = (
    "suite: no-held-out\n"
    "tasks:\n"
    "  - {id: a, start_url: 'http://127.0.0.1:1/', goal: Go., success: {url_contains: /a}}\n"
    "  - {id: b, start_url: 'http://127.0.0.1:1/', goal: Go., success: {url_contains: /b}}\n"
)


def run_statuses(db: Path) -> list[tuple[int, str]]:
    with sqlite3.connect(db) as con:
        rows = con.execute("SELECT id, status FROM runs ORDER BY id").fetchall()
    con.close()
    return [(int(i), str(s)) for i, s in rows]


def test_a_saved_encoder_is_refused_before_a_run_is_recorded(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from transformers import BertConfig, BertModel

    # transformers lists "bert" among causal-LM model types, so the model type alone let this through.
    encoder = tmp_path / "bert"
    tiny = BertConfig(num_hidden_layers=1, hidden_size=16, intermediate_size=32, num_attention_heads=2, vocab_size=50)
    BertModel(tiny).save_pretrained(encoder)
    capsys.readouterr()  # the save's progress bar
    before = snapshot(tmp_path), sorted(p.name for p in tmp_path.iterdir())
    assert main(["practice", "--model", str(encoder), "--db", f"sqlite:///{tmp_path / 'p.db'}"]) == 2
    err = one_line_error(capsys)
    assert f"{str(encoder)!r} holds BertModel, which is not a causal language model; pass a decoder" in err
    assert (snapshot(tmp_path), sorted(p.name for p in tmp_path.iterdir())) == before  # no store, no checkpoints


def test_resuming_a_run_whose_suite_has_no_held_out_tasks_is_refused_and_changes_nothing(
    tiny_model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from practicum.store import open_store

    tasks = tmp_path / "tasks.yaml"
    tasks.write_text(NO_HELD_OUT)
    db = tmp_path / "p.db"
    # A run recorded before its suite was checked (an older practicum let it through), left 'running'.
    config = config_from_dict({"policy": {"model": str(tiny_model_dir)}, "warmup": {"states": 0}}).to_dict()
    with open_store(f"sqlite:///{db}") as store:
        store.create_run(config={**config, "suite": "no-held-out", "task_files": [str(tasks)]})
    before = snapshot(tmp_path), sorted(p.name for p in tmp_path.iterdir())
    assert main(["practice", "--resume", "1", "--db", f"sqlite:///{db}"]) == 2
    err = one_line_error(capsys)
    assert "suite 'no-held-out' has no validation tasks" in err and "mark some tasks `split: validation`" in err
    assert (snapshot(tmp_path), sorted(p.name for p in tmp_path.iterdir())) == before  # no checkpoints either
    assert run_statuses(db) == [(1, "running")]  # as it was: it resumes once its task file is fixed


def test_bad_input_found_after_the_run_started_marks_the_run_failed(
    tiny_model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*args: object, **kwargs: object) -> int:  # stands in for a check only the started run can make
        raise ConfigError("the base policy cannot be registered; fix it and resume")

    monkeypatch.setattr("practicum.loop.practice.register_base_policy", refuse)
    config = tmp_path / "run.yaml"
    config.write_text(f"policy: {{model: '{tiny_model_dir}'}}\nrecipe: none\nwarmup: {{states: 0}}\n")
    db = tmp_path / "p.db"
    assert main(["practice", "--config", str(config), "--db", f"sqlite:///{db}"]) == 2
    assert one_line_error(capsys) == "error: the base policy cannot be registered; fix it and resume"
    assert run_statuses(db) == [(1, "failed")]  # not left 'running'
    with sqlite3.connect(db) as con:
        (reason,) = con.execute("SELECT status_reason FROM runs WHERE id = 1").fetchone()
    con.close()
    assert reason == "ConfigError: the base policy cannot be registered; fix it and resume"
    assert main(["runs", "1", "--db", str(db)]) == 0
    assert "ConfigError: the base policy cannot be registered" in capsys.readouterr().out


# --------------------------------------------------------------------------- exit codes
def test_run_with_an_endpoint_that_cannot_be_reached_exits_2_as_practice_does(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dead = "http://127.0.0.1:9/v1"  # the discard port: nothing listens
    assert main(["run", "--env", "frozenlake-4x4", "--policy", "m", "--endpoint", dead]) == 2
    err = one_line_error(capsys)
    assert "127.0.0.1:9" in err and "check that the server is running" in err
    assert main(["practice", "--endpoint", dead, "--endpoint-model", "m", "--recipe", "none"]) == 2
    assert "check that the server is running" in one_line_error(capsys)
    assert list(workdir.iterdir()) == []


# --------------------------------------------------------------------------- resume
def test_resume_where_there_is_no_store_says_so_and_creates_none(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["practice", "--resume", "1"]) == 2
    assert one_line_error(capsys) == (
        "error: no run '1' to resume: there is no store at 'practicum.db'; pass --db with the URL of the store the "
        "run was recorded in"
    )
    assert main(["practice", "--resume", "1", "--db", "sqlite:///k9.db"]) == 2
    assert "there is no store at 'k9.db'" in one_line_error(capsys)
    assert list(workdir.iterdir()) == []


def test_resume_accepts_the_store_it_was_told_to_use(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from practicum.store import open_store

    open_store("sqlite:///k9.db").close()
    before = snapshot(workdir)
    # The command practice prints after Ctrl-C, and the README's: --db is where the run is, not a new setting.
    assert main(["practice", "--resume", "1", "--db", "sqlite:///k9.db"]) == 2
    assert one_line_error(capsys) == "error: run 1 does not exist; use the id of an existing run"
    assert snapshot(workdir) == before
    assert main(["practice", "--resume", "1", "--db", "sqlite:///k9.db", "--iterations", "3"]) == 2
    assert "pass only --resume and --db" in one_line_error(capsys)
    assert main(["practice", "--resume", "1", "--db", "sqlite:///k9.db", "--set", "search.k=2"]) == 2
    assert "pass only --resume and --db" in one_line_error(capsys)
    assert snapshot(workdir) == before


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("search.simulation=4", "error: unknown config key 'search.simulation'; did you mean 'simulations'?"),
        ("search", "error: setting 'search': write a dotted key, '=' and a value, e.g. search.simulations=16"),
        (
            "search..k=2",
            "error: setting 'search..k=2': write a dotted key, '=' and a value, e.g. search.simulations=16",
        ),
        ("search.k=[2", "error: setting 'search.k=[2': the value is not valid YAML (ParserError)"),
        ("search.k=-1", "error: SearchConfig.k must be >= 1; got -1: propose at least one candidate per node"),
    ],
)
def test_a_bad_dotted_setting_exits_2_with_one_line_and_writes_nothing(
    setting: str, message: str, workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["practice", "--set", setting, "--iterations", "1"]) == 2
    assert one_line_error(capsys) == message
    assert list(workdir.iterdir()) == []


def _ctrl_c(*args: object, **kwargs: object) -> None:
    raise KeyboardInterrupt


# Every command, stopped by Ctrl-C in the middle of its work (practice and run are stopped by a real SIGINT in
# tests/loop/test_faults.py): where the work happens, and what the one line must say.
CTRL_C = {
    "envs": (["envs"], "practicum.envs.registry.suites", "nothing was written"),
    "store info": (["store", "info"], "practicum.store.Store.info", "nothing was written"),
    "store upgrade": (["store", "upgrade"], "practicum.store.open_store", "run `practicum store upgrade` again"),
    "doctor": (
        ["doctor", "--no-browser", "--no-model", "--no-stockfish"],
        "practicum.doctor.check_installation",
        "the checks were not finished",
    ),
    "runs": (["runs"], "practicum.store.queries.list_runs", "nothing was written"),
    "train": (["train"], "practicum.loop.manual.run_round", "the round was not finished"),
    "eval": (["eval", "--policy", "1", "--suite", "frozenlake-4x4"], "practicum.loop.manual.evaluate_policy", ""),
    "export": (["export", "1", "--out", "exported"], "practicum.trainer.export.export_policy", "the export in"),
}


@pytest.mark.parametrize("name", CTRL_C)
def test_ctrl_c_in_any_command_exits_130_with_one_line_and_marks_its_run(
    name: str,
    tmp_path: Path,
    tiny_model_dir: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from practicum.store import open_store
    from practicum.trainer.rounds import register_base_policy

    command, where, says = CTRL_C[name]
    db = tmp_path / "p.db"
    with open_store(f"sqlite:///{db}") as store:
        store.create_run(config={})
        register_base_policy(store, tiny_model_dir)
    before = run_statuses(db)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(where, _ctrl_c)
    assert main(command if name == "envs" else [*command, "--db", f"sqlite:///{db}"]) == 130
    err = capsys.readouterr().err.strip()
    assert err.startswith("interrupted; ") and says in err and "\n" not in err, err
    after = run_statuses(db)
    assert after[: len(before)] == before  # other runs untouched
    # A command that records a run (train, eval) leaves it marked interrupted, not running.
    assert [status for _, status in after[len(before) :]] == (["interrupted"] if name in ("train", "eval") else [])
