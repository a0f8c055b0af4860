"""Suite files: bring any gymnasium environment, from a YAML file that `--tasks` accepts.

A suite file names the env (a gymnasium id, or an entry point `module:factory` or `path/to/file.py:factory`),
how to show it, how seeds become tasks and how success is judged:

    suite: tiny-adventure                  # the suite's name; default gym-<file name>
    entry_point: adventure.py:TinyAdventure  # or gym_id: FrozenLake-v1; a .py path is relative to this file
    kwargs: {verbose: false}               # constructor arguments (optional)
    render: adventure.py:render            # (env, obs) -> text; default: str(obs)
    goal: Find the treasure and open it.
    max_steps: 30                          # practicum's step limit per episode (default 100)
    success: {reward_at_least: 1.0}        # or terminated_with_positive_reward, or {info_true: won}
    levels:                                # seeds name levels: train levels first, then validation, then test
      option: level                        # a level goes to reset(options={"level": ...}); or kwarg: game_file
      files: true                          # levels are files, relative to this file, checked to exist
      train: [cave.txt, forest.txt]
      validation: [lake.txt]
      test: [tower.txt]

Without `levels`, seed s is the task "`goal`, gymnasium reset seed s", with the seed ranges of `seeds`
(`{train: 0..999, validation: 2000..2099, test: 1000..1099}`, inclusive; default the game suites' ranges).
Optional keys: `actions` (names of a `Discrete` space's actions), `legal_actions` (`module:function`,
`(env, obs) -> names`), `state_attrs`, `description`, `quiet`, `observation_is_state`. The env's own
`info["legal_actions"]` (or `info["action_mask"]`) lists what is legal in each state (see `gym_text`).

Every step keeps the env's own reward (an episode's return is their sum); `success` decides success when the
game ends. A file that is wrong in any way fails as it loads with one line naming the problem and the fix.
"""

from __future__ import annotations

import difflib
import importlib
import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import yaml

from practicum.envs.core import SPLITS, Split, Task, TextEnv
from practicum.envs.games.gym_text import GymTextEnv, SuccessRule, judge_by_return
from practicum.envs.games.tasks import DEFAULT_SPLITS, split_of
from practicum.envs.registry import Suite, register_task_file_suite
from practicum.errors import ConfigError

_KEYS = (
    "suite",
    "gym_id",
    "entry_point",
    "kwargs",
    "render",
    "legal_actions",
    "actions",
    "goal",
    "description",
    "max_steps",
    "state_attrs",
    "success",
    "seeds",
    "levels",
    "quiet",
    "observation_is_state",
)
_LEVEL_KEYS = ("kwarg", "option", "files", *SPLITS)
_RULES = ("reward_at_least", "terminated_with_positive_reward", "info_true")
DEFAULT_GOAL = "Finish the game successfully."


def render_observation(env: Any, obs: Any) -> str:
    """The default renderer: the observation as text (a text game's observation already is)."""
    return str(obs)


def is_suite_file(path: str | Path) -> bool:
    """Whether `path` is a suite file rather than a browser task file: a YAML mapping without `tasks`."""
    path = Path(path)
    if path.suffix not in (".yaml", ".yml") or not path.is_file():
        return False
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError:
        return True  # `load_suite_file` says what is wrong with it, in one line
    except (OSError, UnicodeDecodeError):
        return False  # the task-file reader says so, in one line
    return isinstance(data, dict) and "tasks" not in data


def load_suite_file(path: str | Path) -> Suite:
    """Read a suite file and register its suite; a built-in suite's name is refused (see module docs)."""
    path = Path(path)
    data = _read(path)
    suite = build_suite(data, path)
    return register_task_file_suite(suite, str(path))


def build_suite(data: dict[str, Any], path: Path) -> Suite:
    """The suite a suite file's content describes (not registered); `path` resolves relative file names."""
    where = str(path)
    unknown = sorted(set(data) - set(_KEYS))
    if unknown:
        # "tasks" among the candidates: a browser task file with a typo in it is read as a suite file.
        raise ConfigError(f"{where}: unknown key {unknown[0]!r}{_did_you_mean(unknown[0], (*_KEYS, 'tasks'))}")
    if ("gym_id" in data) == ("entry_point" in data):
        raise ConfigError(
            f"{where}: give exactly one of gym_id (e.g. gym_id: FrozenLake-v1) and entry_point "
            "(e.g. entry_point: mygame:make_env, or entry_point: mygame.py:make_env beside this file); "
            "a browser task file lists its tasks under tasks:"
        )
    folder = path.resolve().parent
    env_id: Any = _text(data, "gym_id", where) if "gym_id" in data else _resolve(data, "entry_point", folder, where)
    name = _text(data, "suite", where) if "suite" in data else f"gym-{path.stem}"
    goal = _text(data, "goal", where) if "goal" in data else DEFAULT_GOAL
    render = _resolve(data, "render", folder, where) if "render" in data else render_observation
    legal = _resolve(data, "legal_actions", folder, where) if "legal_actions" in data else None
    kwargs = _mapping(data, "kwargs", where)
    rule = _success(data.get("success", "terminated_with_positive_reward"), where)
    options: dict[str, Any] = {
        "render": render,
        "legal_actions": legal,
        "actions": _names(data, "actions", where),
        "judge": judge_by_return(rule),
        "make_kwargs": kwargs,
        "state_attrs": _names(data, "state_attrs", where),
        "max_steps": _positive(data, "max_steps", 100, where),
        "quiet": _flag(data, "quiet", True, where),
        "observation_is_state": _flag(data, "observation_is_state", False, where),
    }
    if "levels" in data and "seeds" in data:
        raise ConfigError(f"{where}: give levels or seeds, not both (levels number the seeds themselves)")
    if "levels" in data:
        splits, build_task = _levels(data["levels"], name, goal, folder, where)
        first = build_task(0, "train").params
        # The env is built as the suite's environment is made, before any task: with the first level's arguments.
        options["make_kwargs"] = {**kwargs, **first.get("make_kwargs", {})}
    else:
        splits = _seeds(data.get("seeds"), where)

        def build_task(seed: int, split: Split) -> Task:
            return Task(suite=name, seed=seed, split=split, goal=goal, params={"reset_seed": seed})

    def make_task(seed: int) -> Task:
        return build_task(seed, split_of(splits, seed, name))

    # `reset(seed=s)` past the last level plays level s modulo their number (as browser task files do), so
    # that any seed works for gymnasium's checks; the suite's own tasks are exactly its levels.
    total = sum(len(r) for r in splits.values()) if "levels" in data else 0

    def env_task(seed: int) -> Task:
        return make_task(seed % total if total else seed)

    def make_env(**overrides: Any) -> TextEnv:
        return GymTextEnv(env_id, suite=name, goal=goal, task_factory=env_task, **{**options, **overrides})

    what = data.get("gym_id") or data.get("entry_point")
    description = _text(data, "description", where) if "description" in data else f"{what} from {path.name}"
    try:
        return Suite(name, "game", description, make_task, make_env, splits)
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None


# ----------------------------------------------------------------------------------------------- reading
def _read(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ConfigError(f"suite file {path} does not exist; pass the path of a .yaml file")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        bad = exc.object[exc.start : exc.start + 1]
        raise ConfigError(f"{path} is not UTF-8 text (byte {exc.start} is {bad!r}); save it as UTF-8") from None
    except OSError as exc:
        raise ConfigError(f"cannot read suite file {path}: {exc.strerror or exc}; check its permissions") from None
    except yaml.YAMLError as exc:
        problem = getattr(exc, "problem", None) or "a syntax error"
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        raise ConfigError(f"{path} is not valid YAML: {problem}{at}; fix its syntax") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a suite file is a mapping (suite:, gym_id: or entry_point:, ...)")
    return data


def _did_you_mean(key: str, known: tuple[str, ...]) -> str:
    close = difflib.get_close_matches(key, known, n=1)
    return f"; did you mean {close[0]!r}?" if close else f"; the keys are {', '.join(known)}"


def _text(data: dict[str, Any], key: str, where: str) -> str:
    value = data[key]
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f'{where}: {key} must be text, got {value!r}; write it as {key}: "..."')
    return value.strip()


def _mapping(data: dict[str, Any], key: str, where: str) -> dict[str, Any]:
    value = data.get(key) or {}
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: {key} must be a mapping of argument names to values, e.g. {key}: {{size: 4}}")
    return value


def _names(data: dict[str, Any], key: str, where: str) -> list[str] | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ConfigError(f"{where}: {key} must be a list of names, e.g. {key}: [left, right]; got {value!r}")
    return value


def _positive(data: dict[str, Any], key: str, default: int, where: str) -> int:
    value = data.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{where}: {key} must be a whole number >= 1, e.g. {key}: {default}; got {value!r}")
    return value


def _flag(data: dict[str, Any], key: str, default: bool, where: str) -> bool:
    value = data.get(key, default)
    if not isinstance(value, bool):
        raise ConfigError(f"{where}: {key} must be true or false, got {value!r}")
    return value


def _resolve(data: dict[str, Any], key: str, folder: Path, where: str) -> Callable[..., Any]:
    """`module:attr` (importable, or a module beside the suite file) or `file.py:attr` (relative to it)."""
    ref = _text(data, key, where)
    target, sep, attr = ref.rpartition(":")
    if not sep or not target or not attr.isidentifier():
        raise ConfigError(f"{where}: {key} {ref!r} is not module:name; write e.g. {key}: mygame:make_env")
    if target.endswith(".py"):
        module = _import_file((folder / target).resolve(), where)
    else:
        module = _import_module(target, folder, where, key)
    value = getattr(module, attr, None)
    if not callable(value):
        raise ConfigError(f"{where}: {key} {ref!r}: {target} has no function or class {attr!r}; check the name")
    return value


def _import_module(name: str, folder: Path, where: str, key: str) -> ModuleType:
    # A module beside the suite file imports without being installed, as a test file's conftest would.
    added = str(folder) not in sys.path
    if added:
        sys.path.insert(0, str(folder))
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and name.startswith(exc.name):
            raise ConfigError(
                f"{where}: {key} names module {name!r}, which is not installed or beside the suite file; install "
                f"it, or write the path of its file (e.g. {key}: {name.replace('.', '/')}.py:...)"
            ) from None
        raise ConfigError(f"{where}: importing {name!r} failed: {exc}") from exc
    except Exception as exc:
        raise ConfigError(f"{where}: importing {name!r} failed: {type(exc).__name__}: {exc}") from exc
    finally:
        if added:
            sys.path.remove(str(folder))


def _import_file(file: Path, where: str) -> ModuleType:
    # The user's own game module, like a conftest.py: running it is the point (it defines the env).
    if not file.is_file():
        raise ConfigError(f"{where}: {file} does not exist; paths are relative to the suite file's folder")
    module_name = f"practicum_user_env_{file.stem}_{abs(hash(file)):x}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, file)
    if spec is None or spec.loader is None:
        raise ConfigError(f"{where}: cannot load {file} as Python")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # pickling (snapshots) looks classes up by module name
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        sys.modules.pop(module_name, None)
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise ConfigError(f"{where}: {file} failed to run: {type(exc).__name__}: {first}") from exc
    return module


def _success(value: Any, where: str) -> SuccessRule:
    example = "success: {reward_at_least: 1.0}, success: terminated_with_positive_reward or success: {info_true: won}"
    if value == "terminated_with_positive_reward":
        return SuccessRule(terminated_with_positive_reward=True)
    if not isinstance(value, dict) or len(value) != 1 or next(iter(value)) not in _RULES:
        raise ConfigError(f"{where}: success must be one rule, got {value!r}; write {example}")
    key, arg = next(iter(value.items()))
    if key == "reward_at_least" and (isinstance(arg, bool) or not isinstance(arg, int | float)):
        raise ConfigError(f"{where}: success.reward_at_least must be a number, got {arg!r}; write {example}")
    if key == "info_true" and not (isinstance(arg, str) and arg):
        raise ConfigError(f"{where}: success.info_true must name an info key, got {arg!r}; write {example}")
    if key == "terminated_with_positive_reward":
        if arg is not True:
            raise ConfigError(f"{where}: write success: terminated_with_positive_reward, got {value!r}")
        return SuccessRule(terminated_with_positive_reward=True)
    return SuccessRule(reward_at_least=float(arg)) if key == "reward_at_least" else SuccessRule(info_true=arg)


def _seeds(value: Any, where: str) -> dict[Split, range]:
    if value is None:
        return dict(DEFAULT_SPLITS)
    if not isinstance(value, dict) or set(value) - set(SPLITS):
        raise ConfigError(
            f"{where}: seeds must map train, validation and test to ranges, e.g. seeds: {{train: 0..999}}"
        )
    splits: dict[Split, range] = {}
    for split in SPLITS:
        text = value.get(split)
        if text is None:
            splits[split] = range(0)
            continue
        first, sep, last = str(text).partition("..")
        if not sep or not first.strip().isdigit() or not last.strip().isdigit() or int(last) < int(first):
            raise ConfigError(
                f"{where}: seeds.{split} must be FIRST..LAST (inclusive), e.g. {split}: 0..999; got {text!r}"
            )
        splits[split] = range(int(first), int(last) + 1)
    return splits


def _levels(
    value: Any, suite: str, goal: str, folder: Path, where: str
) -> tuple[dict[Split, range], Callable[[int, Split], Task]]:
    example = "levels: {option: level, train: [a, b], validation: [c], test: [d]}"
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: levels must be a mapping, e.g. {example}")
    unknown = sorted(set(value) - set(_LEVEL_KEYS))
    if unknown:
        raise ConfigError(f"{where}: unknown key levels.{unknown[0]}{_did_you_mean(unknown[0], _LEVEL_KEYS)}")
    if ("kwarg" in value) == ("option" in value):
        raise ConfigError(
            f"{where}: levels needs exactly one of kwarg (the constructor argument a level goes to, e.g. "
            "kwarg: game_file) and option (the reset option, e.g. option: level)"
        )
    files = value.get("files", False)
    if not isinstance(files, bool):
        raise ConfigError(f"{where}: levels.files must be true or false, got {files!r}")
    by_split: dict[Split, list[Any]] = {}
    for split in SPLITS:
        levels = value.get(split) or []
        if not isinstance(levels, list) or any(isinstance(v, dict | list) or v is None for v in levels):
            raise ConfigError(f"{where}: levels.{split} must be a list of level names or files, e.g. {example}")
        if files:
            levels = [_level_file(str(v), folder, where) for v in levels]
        by_split[split] = levels
    if not by_split["train"]:
        raise ConfigError(f"{where}: levels.train is empty; practice needs train levels: list at least one")
    ordered = [level for split in SPLITS for level in by_split[split]]
    splits: dict[Split, range] = {}
    start = 0
    for split in SPLITS:
        splits[split] = range(start, start + len(by_split[split]))
        start += len(by_split[split])
    key = value.get("kwarg") or value.get("option")
    if not isinstance(key, str) or not key.isidentifier():
        raise ConfigError(f"{where}: levels.{'kwarg' if 'kwarg' in value else 'option'} must be a name, got {key!r}")
    where_to = "make_kwargs" if "kwarg" in value else "reset_options"

    def build_task(seed: int, split: Split) -> Task:
        level = ordered[seed]
        params = {"reset_seed": seed, "level": level, where_to: {key: level}}
        return Task(suite=suite, seed=seed, split=split, goal=goal, params=params)

    return splits, build_task


def _level_file(name: str, folder: Path, where: str) -> str:
    file = (folder / name).resolve()
    if not file.is_file():
        raise ConfigError(f"{where}: level file {name} does not exist in {folder}; levels.files are relative to it")
    return str(file)
