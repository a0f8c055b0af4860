"""Suite files (`envs/games/suite_file.py`): a YAML file brings any gymnasium env, here a tiny text adventure
with a state-dependent action set, an unpicklable member, partial rewards, levels from game files and C-level
noise, through `load_task_files` and the `--tasks` flag of `practicum envs`, `run` and `eval`."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from gymnasium.utils.env_checker import check_env

from practicum.cli import main
from practicum.envs import registry, task_files
from practicum.envs.games import GymTextEnv
from practicum.errors import ConfigError, SnapshotUnsupportedError
from practicum.search.config import SearchConfig
from practicum.search.mcts import search_episode
from tests.search.toys import TablePolicy

ADVENTURE = Path(__file__).with_name("adventure.py")
LEVELS = {  # game file -> (key room, chest room)
    "manor.txt": ("study", "garden"),
    "farm.txt": ("garden", "cellar"),
    "castle.txt": ("cellar", "study"),
    "mill.txt": ("hall", "garden"),
}


def suite_yaml(**extra: str) -> str:
    fields = {
        "suite": "tiny-adventure",
        "entry_point": f"{ADVENTURE}:TinyAdventure",
        "render": f"{ADVENTURE}:render",
        "goal": "Find the key and open the chest.",
        "max_steps": "8",
        "success": "{reward_at_least: 1.0}",
        "levels": "{kwarg: game_file, files: true, train: [manor.txt, farm.txt], validation: [castle.txt], "
        "test: [mill.txt]}",
        **extra,
    }
    return "".join(f"{key}: {value}\n" for key, value in fields.items() if value)


@pytest.fixture
def isolated_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """Suites registered by a test stay in that test."""
    registry.load_builtin_suites()
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    monkeypatch.setattr(registry, "_FROM_TASK_FILES", dict(registry._FROM_TASK_FILES))


def write_suite(folder: Path, name: str, **extra: str) -> Path:
    """The levels and a suite file `name` over them (with `extra` fields) in `folder`."""
    for level, (key, chest) in LEVELS.items():
        (folder / level).write_text(f"key: {key}\nchest: {chest}\n")
    path = folder / name
    path.write_text(suite_yaml(**extra))
    return path


@pytest.fixture
def suite_file(tmp_path: Path, isolated_registry: None) -> Path:
    return write_suite(tmp_path, "adventure.yaml")


@pytest.fixture
def env(suite_file: Path) -> Iterator[GymTextEnv]:
    (suite,) = task_files.load_task_files([str(suite_file)])
    made = suite.env()
    assert isinstance(made, GymTextEnv)
    yield made
    made.close()


def test_seeds_map_to_the_levels_of_the_file_in_split_order(env: GymTextEnv, suite_file: Path) -> None:
    suite = registry.get_suite("tiny-adventure")
    assert (suite.domain, suite.counts()) == ("game", {"train": 2, "validation": 1, "test": 1})
    tasks = [suite.task(seed) for seed in range(4)]
    assert [t.split for t in tasks] == ["train", "train", "validation", "test"]
    assert [Path(t.params["level"]).name for t in tasks] == list(LEVELS)
    rooms = []
    for seed in range(4):
        env.reset(seed=seed)
        rooms.append((env.gym_env.key_room, env.gym_env.chest_room))
    assert rooms == list(LEVELS.values())  # each seed plays its own game file
    check_env(env, skip_render_check=True)


def test_legal_actions_come_from_the_env_and_change_with_the_state(env: GymTextEnv) -> None:
    obs, info = env.reset(seed=0)  # manor: key in the study, chest in the garden
    assert info["legal_actions"] == ["go study", "go garden", "go cellar"]
    assert "1. go study" in obs and "You carry nothing." in obs
    _, _, _, _, info = env.step("go study")
    assert info["legal_actions"] == ["go hall", "go garden", "go cellar", "take key"]
    _, _, _, _, info = env.step("open chest")  # not legal here: recorded, and the game goes on
    assert info["invalid_action"] and "take key" in info["legal_actions"]
    _, _, _, _, info = env.step("take key")
    assert "take key" not in info["legal_actions"]


def test_partial_rewards_sum_to_the_return_and_the_rule_judges_success(env: GymTextEnv) -> None:
    env.reset(seed=0)
    rewards = []
    for action in ("go study", "take key", "go garden", "open chest"):
        _, reward, terminated, _, info = env.step(action)
        rewards.append(reward)
    assert rewards == [0.0, 0.5, 0.0, 0.5] and terminated and info["success"]  # the key's 0.5 is kept


def test_a_return_below_the_rule_is_a_failure(tmp_path: Path, isolated_registry: None) -> None:
    (suite,) = task_files.load_task_files([str(write_suite(tmp_path, "strict.yaml", success="{reward_at_least: 2.0}"))])
    env = suite.env()
    env.reset(seed=0)
    for action in ("go study", "take key", "go garden"):
        env.step(action)
    _, reward, terminated, _, info = env.step("open chest")
    assert (reward, terminated, info["success"], info["failure"]) == (0.5, True, False, "agent")


def test_a_state_that_cannot_be_pickled_makes_search_replay(
    env: GymTextEnv, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    from practicum.envs.games import gym_text

    monkeypatch.setattr(gym_text, "_WARNED", set())  # said once per process: whatever ran before, say it here
    env.reset(seed=0)
    with caplog.at_level(logging.WARNING), pytest.raises(SnapshotUnsupportedError, match="state_attrs"):
        env.snapshot()
    assert not env.supports_snapshot
    (record,) = [r for r in caplog.records if "state_attrs" in r.getMessage()]
    assert "['narrator']" in record.getMessage()  # names the member that cannot be copied
    policy = TablePolicy({"go study": -0.1, "take key": -0.1, "go garden": -0.5, "open chest": -0.1})
    config = SearchConfig(simulations=4, k=2, max_depth=2, rollout_depth=2, rollout_policy="random", alpha=1.0)
    resets = _resets(env)
    tree = search_episode(env, policy, None, config, task=registry.get_suite("tiny-adventure").task(0))
    assert tree.failure_kind != "infra", tree.error
    assert tree.success and tree.reward == 1.0  # 0.5 + 0.5: the return is the sum
    assert _resets(env) - resets > 1  # search went back by replaying from reset
    assert len([r for r in caplog.records if "state_attrs" in r.getMessage()]) == 1  # said once


def _resets(env: GymTextEnv) -> int:
    # The suite file loads adventure.py as a module of its own: read that module's counter.
    return int(sys.modules[type(env.gym_env).__module__].RESETS[0])


def test_naming_state_attrs_lets_search_snapshot(tmp_path: Path, isolated_registry: None) -> None:
    (suite,) = task_files.load_task_files([str(write_suite(tmp_path, "snap.yaml", state_attrs="[room, has_key]"))])
    env = suite.env()
    env.reset(seed=0)
    env.step("go study")
    blob = env.snapshot()
    env.step("take key")
    obs, info = env.restore(blob)
    assert "take key" in info["legal_actions"] and "A brass key lies" in obs


def test_what_the_env_prints_from_c_or_python_is_silenced(env: GymTextEnv, capfd: pytest.CaptureFixture[str]) -> None:
    env.reset(seed=0)
    print("before")
    env.step("go study")
    print("after")
    out, err = capfd.readouterr()
    assert out == "before\nafter\n" and "noise" not in err


def test_envs_run_and_eval_take_the_suite_file(
    suite_file: Path, tiny_model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from practicum.store import open_store, queries
    from practicum.trainer.rounds import register_base_policy

    tasks = ["--tasks", str(suite_file)]
    assert main(["envs", "--domain", "game", *tasks]) == 0
    out = capsys.readouterr().out
    assert "tiny-adventure" in out and "Find the key" in out
    play = ["run", *tasks, "--seed", "1", "--policy", str(tiny_model_dir), "--max-steps", "3"]
    assert main(play) == 0  # no --env: the file's one suite
    out = capsys.readouterr().out
    assert "tiny-adventure:1" in out
    assert main([*play, "--env", "tiny-adventure", "--search", "--simulations", "2"]) == 0
    assert "infra" not in capsys.readouterr().out
    assert main(["run", "--policy", str(tiny_model_dir)]) == 2  # no --env and no file to take it from
    assert "which suite? pass --env SUITE" in capsys.readouterr().err
    url = f"sqlite:///{tmp_path / 'p.db'}"
    with open_store(url) as store:
        policy_id = register_base_policy(store, tiny_model_dir)
    args = ["eval", "--policy", str(policy_id), *tasks, "--split", "validation", "--max-steps", "2", "--db", url]
    assert main(args) == 0
    assert f"policy {policy_id} on tiny-adventure validation (greedy): " in capsys.readouterr().out
    with open_store(url) as store, store.session() as s:
        (row,) = queries.list_evals(s, policy_id=policy_id)
        assert (row.suite, row.n_tasks) == ("tiny-adventure", 1)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("suite: x\n", "give exactly one of gym_id"),
        ("gym_id: FrozenLake-v1\nentrypoint: a:b\n", "unknown key 'entrypoint'; did you mean 'entry_point'?"),
        ("entry_point: no_such_game_module:make\n", "module 'no_such_game_module', which is not installed"),
        (f"entry_point: {ADVENTURE}:Nope\n", "has no function or class 'Nope'"),
        ("gym_id: FrozenLake-v1\nsuccess: {reward_over: 1}\n", "success must be one rule"),
        ("gym_id: FrozenLake-v1\nseeds: {train: 0-9}\n", "seeds.train must be FIRST..LAST"),
        ("gym_id: FrozenLake-v1\nseeds: {train: 0..9, test: 5..20}\n", "overlap"),
        ("gym_id: FrozenLake-v1\nlevels: {option: level, train: [a.txt], files: true}\n", "level file a.txt"),
        ("gym_id: FrozenLake-v1\nlevels: {train: [a]}\n", "exactly one of kwarg"),
        ("gym_id: FrozenLake-v1\nmax_steps: lots\n", "max_steps must be a whole number"),
        ("suite: frozenlake-4x4\ngym_id: FrozenLake-v1\n", "built-in suite"),
        ("gym_id: [FrozenLake\n", "not valid YAML"),
    ],
)
def test_a_bad_suite_file_is_one_line_naming_the_fix(
    content: str, message: str, tmp_path: Path, isolated_registry: None, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(content)
    assert main(["envs", "--tasks", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and message in err.replace("\n", " ")
    with pytest.raises(ConfigError):
        task_files.load_task_files([str(path)])


def test_a_gymnasium_id_and_a_module_entry_point_load_too(tmp_path: Path, isolated_registry: None) -> None:
    lake = tmp_path / "lake.yaml"
    lake.write_text(
        "suite: my-lake\ngym_id: FrozenLake-v1\nkwargs: {is_slippery: false}\nactions: [left, down, right, up]\n"
        "seeds: {train: 0..9, validation: 10..14, test: 15..19}\n"
    )
    (tmp_path / "manor.txt").write_text("key: study\nchest: garden\n")
    module = tmp_path / "module.yaml"
    module.write_text(
        "suite: by-module\nentry_point: tests.envs.games.adventure:TinyAdventure\n"
        "kwargs: {noisy: false}\nlevels: {kwarg: game_file, files: true, train: [manor.txt]}\n"
    )
    named = tmp_path / "named.yaml"
    named.write_text("gym_id: FrozenLake-v1\nlevels: {option: map_name, train: [4x4], test: [8x8]}\n")
    lake_suite, module_suite, named_suite = task_files.load_task_files([str(lake), str(module), str(named)])
    assert lake_suite.counts() == {"train": 10, "validation": 5, "test": 5}
    assert named_suite.name == "gym-named" and named_suite.counts() == {"train": 1, "validation": 0, "test": 1}
    assert named_suite.task(1).params["reset_options"] == {"map_name": "8x8"}  # a level as a reset option
    env = lake_suite.env()
    obs, info = env.reset(seed=3)
    assert info["legal_actions"] == ["left", "down", "right", "up"] and obs.startswith("Goal: Finish the game")
    env = module_suite.env()
    obs, info = env.reset(seed=0)
    assert "You are in the hall." in obs and info["legal_actions"][0] == "go study"  # default renderer: str(obs)


def test_the_worked_example_in_the_docs_loads_and_plays(tmp_path: Path, isolated_registry: None) -> None:
    import re

    doc = (Path(__file__).resolve().parents[3] / "docs" / "environments.md").read_text()
    # The example's blocks begin with a comment naming their file: "# cave.py: ..." and "# cave.yaml".
    blocks = {m.group(2): m.group(1) for m in re.finditer(r"```(?:python|yaml)\n(# ([\w.]+).*?)```", doc, re.S)}
    (tmp_path / "cave.py").write_text(blocks["cave.py"])
    (tmp_path / "cave.yaml").write_text(blocks["cave.yaml"])
    (tmp_path / "maps").mkdir()
    for name, rooms in {"short": 1, "long": 3, "winding": 4, "deep": 6}.items():
        (tmp_path / "maps" / f"{name}.txt").write_text("".join(f"{name} cave room {i}\n" for i in range(rooms)))
    (suite,) = task_files.load_task_files([str(tmp_path / "cave.yaml")])
    assert suite.name == "cave" and suite.counts() == {"train": 2, "validation": 1, "test": 1}
    env = suite.env()
    obs, info = env.reset(seed=1)
    assert info["legal_actions"] == ["light the lamp", "shout"] and "darkness" in obs
    rewards = [env.step("light the lamp")[1]]
    assert "long cave room 2" in env.render()
    for _ in range(3):
        _, reward, terminated, _, info = env.step("go out")
        rewards.append(reward)
    assert terminated and info["success"] and rewards == [0.5, 0.0, 0.0, 0.5]
    with pytest.raises(SnapshotUnsupportedError, match=r"\['sounds'\]"):
        env.snapshot()


def test_exploring_starts_on_a_state_that_cannot_be_copied_say_how_to_turn_them_off(env: GymTextEnv) -> None:
    import dataclasses

    from practicum.envs.core import START_MOVES
    from practicum.errors import EnvError

    task = registry.get_suite("tiny-adventure").task(0)
    with pytest.raises(EnvError, match="set explore_starts to 0"):
        env.reset(options={"task": dataclasses.replace(task, params={**task.params, START_MOVES: 2})})


def test_an_action_mask_in_info_lists_the_legal_names_of_a_discrete_space() -> None:
    env = GymTextEnv(
        "Taxi-v4", render=lambda env, obs: f"state {obs}", actions=["south", "north", "east", "west", "pick", "drop"]
    )
    _, info = env.reset(seed=0)
    mask = env.gym_env.action_mask(env.gym_env.s)
    assert info["legal_actions"] == [n for n, ok in zip(env.action_names, mask, strict=True) if ok]
    assert len(info["legal_actions"]) < 6  # a wall or an empty back seat rules some out


def test_practice_takes_the_suite_file_and_keeps_it_in_the_config_a_resume_reloads(
    suite_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from types import SimpleNamespace

    import practicum.loop.practice as practice_module
    from practicum.loop.config import PracticeConfig, config_from_dict

    started: list[PracticeConfig] = []

    def fake_practice(config: PracticeConfig, **_: object) -> SimpleNamespace:
        started.append(config)  # the loop itself is tested elsewhere; here: what it is given
        return SimpleNamespace(status="finished")

    monkeypatch.setattr(practice_module, "practice", fake_practice)
    assert main(["practice", "--tasks", str(suite_file)]) == 0
    (config,) = started
    assert config.suite == "tiny-adventure" and config.task_files == (str(suite_file.resolve()),)
    monkeypatch.setattr(registry, "_REGISTRY", {})  # a fresh process resuming the run from its stored config
    stored = config_from_dict({"suite": config.suite, "task_files": list(config.task_files)})
    task_files.load_task_files(stored.task_files)
    assert registry.get_suite("tiny-adventure").counts()["train"] == 2


def test_a_practice_run_on_the_suite_file_searches_in_workers_trains_and_evaluates(
    suite_file: Path, tiny_model_dir: Path, tmp_path: Path
) -> None:
    from sqlalchemy import select

    from practicum.loop.config import config_from_dict
    from practicum.loop.practice import practice
    from practicum.store import open_store
    from practicum.store.models import Episode, TaskRow

    task_files.load_task_files([str(suite_file)])
    config = config_from_dict(
        {
            "suite": "tiny-adventure",
            "task_files": [str(suite_file)],  # the collection workers load it again from here
            "policy": {"model": str(tiny_model_dir)},
            "recipe": "rft",
            "iterations": 1,
            "train_tasks": 2,
            "validation_tasks": 1,
            "test_tasks": 1,
            "search": {"simulations": 2, "k": 2, "max_depth": 2, "rollout_depth": 4},
            "train": {"rft": {"max_steps": 1, "batch_size": 2}, "data": {"min_rft_examples": 1}},
            "schedule": {"min_new_pairs": 0, "min_new_episodes": 1},
            "warmup": {"states": 2, "steps": 1, "batch_size": 2},
        }
    )
    url = f"sqlite:///{tmp_path / 'p.db'}"
    result = practice(config, store_url=url)
    assert result.status == "finished"
    assert [r["iteration"] for r in result.history] == [0, 1]
    with open_store(url) as store, store.session() as s:
        played = s.execute(
            select(TaskRow.suite, TaskRow.split, Episode.mode).join(Episode, Episode.task_id == TaskRow.id)
        ).all()
    assert {suite for suite, _, _ in played} == {"tiny-adventure"}
    assert {(split, mode) for _, split, mode in played} >= {
        ("train", "search"),
        ("validation", "greedy"),
        ("test", "greedy"),
    }
