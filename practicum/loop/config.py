"""The practice loop's configuration: every knob, typed, with built-in defaults that run on 2 CPU cores.

`PracticeConfig` nests the search, training, promotion and schedule settings of the parts it drives. It can be
written as YAML (the same field names, nested); `load_config` reads such a file and flags override it. The
run's full config is stored with the run.
"""

from __future__ import annotations

import contextlib
import dataclasses
import difflib
import math
import typing
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import dacite
import yaml

from practicum.agents.config import CriticConfig, PolicyConfig
from practicum.errors import ConfigError
from practicum.loop.warmup import WarmupConfig
from practicum.search.config import SearchConfig
from practicum.trainer.config import (
    DataSettings,
    DPOSettings,
    PromotionConfig,
    RFTSettings,
    ScheduleConfig,
    TrainConfig,
)

Recipe = Literal["agentq", "rft", "none"]
RECIPES: tuple[Recipe, ...] = ("agentq", "rft", "none")

# What each recipe trains in a round. agentq: MCTS + critique, then RFT on the good steps and step-level DPO
# (Agent Q); rft: rejection-sampling fine-tuning on successful episodes only; none: no training (noise floor).
RECIPE_METHOD = {"agentq": "rft+dpo", "rft": "rft"}


def _default_search() -> SearchConfig:
    # Sized for 2 CPU cores, where SmolLM2-135M spends ~0.25 s per model call: every move of a small game is a
    # candidate (k=4 covers FrozenLake), and random rollouts (no model call) find the sparse goal reward that
    # the model's own rollouts, confidently walking one way, never reach. Measured on FrozenLake 4x4 train
    # tasks: search solved 0 of 4 with 3 simulations, k=3 and model rollouts, 4 of 6 with these settings.
    # alpha 1: search does not trust the critic. Measured with exact values (benchmarks/signal_bench.py): the default
    # model's critic picks an optimal move no more often than chance (FrozenLake 4x4 12% vs 45% at random,
    # far below the policy's own 77%; tic-tac-toe 30% vs 32%), so blending it in only adds noise. A stronger critic
    # earns its weight back: measure it with signal_bench.py and set `search.alpha`.
    # A discount below 1 makes a path that reaches the goal sooner worth more, so search and the step pairs it
    # ranks prefer the short way over a detour that also arrives (undiscounted, both were worth 1).
    # Rollouts follow the environment's rule of thumb where it has one (heavy playouts: FrozenLake steps onto
    # the goal and around holes, board games win when they can and leave the opponent no win), else random.
    return SearchConfig(
        simulations=8,
        k=4,
        max_depth=3,
        rollout_depth=8,
        rollout_policy="heuristic",
        alpha=1.0,
        evaluation="rollout",
        discount=0.95,
    )


def _default_train() -> TrainConfig:
    # Every round fits the run's starting policy to all of the run's episodes so far (start_from "base" with
    # data.aggregate, as ReST-EM does), three LoRA passes at 1e-3. Measured on FrozenLake (76 RFT rows from 16
    # searched lakes): at 2e-4 for two passes a round stacked on the last one left the policy walking right,
    # right, right, down, down, down on every lake (test 30% -> 30% after two rounds); so did three passes at
    # 1e-3 stacked on a first round; the same rows for three passes at 1e-3 from the starting policy took it
    # from 30% to 60% on the first 10 test lakes for two training seeds of three (docs/learning.md). Not
    # yet enough to move the default run: these are the settings the next measurements start from.
    return TrainConfig(
        method="rft+dpo",
        start_from="base",
        dpo=DPOSettings(learning_rate=1e-4, max_steps=8, batch_size=4),
        # Micro-batches of 4 (two per step of 8): the same updates as one example at a time, ~0.8 s per example
        # instead of ~1.05 (32 FrozenLake rows, LoRA, 2 cores; micro-batches of 8 were no faster than 1).
        rft=RFTSettings(learning_rate=1e-3, epochs=3, batch_size=8, micro_batch_size=4),
        # Step pairs ranked by what search's rollouts found: the default critic is the 135M policy itself, and
        # pairs ranked by its scores taught the policy its own bias (trainer/mining.py). Only between siblings
        # visited 3+ times: one random rollout is a coin flip. Measured on one round of tic-tac-toe data (RFT then
        # DPO, 40 held-out games): min_visits 1 -> 138 pairs, 10% won; 2 -> 111 pairs, 42.5%; 3 -> 14 pairs, 45%;
        # RFT alone 42.5%.
        # And only where the gap beats one standard error of the two values (pair_confidence 1): measured by exact
        # values on one round of FrozenLake trees (benchmarks/signal_bench.py), 67 pairs 61% right / 34% tied / 4.5%
        # reversed became 29 pairs 83% right / 0% reversed; on tic-tac-toe it dropped 7 pairs of which 3 were
        # reversed.
        data=DataSettings(
            include_failed_steps=True, pair_value="search", min_visits=3, pair_confidence=1.0, aggregate=True
        ),
    )


@dataclass(frozen=True)
class PracticeConfig:
    """Everything `practicum practice` runs with. Defaults: a small but real run on 2 CPU cores."""

    suite: str = "frozenlake-4x4"
    """The task suite to practise on (`practicum envs` lists them); its test split measures progress."""

    task_files: tuple[str, ...] = ()
    """User files whose suites `suite` may name: suite files (a gymnasium env, YAML) or browser task files (YAML or
    Python); see docs/environments.md. A resumed run and every worker load them again."""

    policy: PolicyConfig = field(default_factory=PolicyConfig)
    """The acting model: "default" (SmolLM2-135M-Instruct), a local directory, or an endpoint (base_url)."""

    critic: CriticConfig = field(default_factory=CriticConfig)
    """The self-critique model: the policy's own by default."""

    store: str = "sqlite:///practicum.db"
    """The trajectory store (any SQLAlchemy URL)."""

    recipe: Recipe = "agentq"
    """agentq (MCTS, its critic blended in where `search.alpha` < 1, then RFT + step DPO), rft (RFT on successes
    only) or none (no training)."""

    iterations: int = 2
    """Practice iterations (collect -> train -> evaluate -> promote); >= 1."""

    time_budget_minutes: float | None = None
    """Stop starting new iterations after this many minutes (None: no limit)."""

    train_tasks: int = 8
    """Train tasks searched per iteration (new tasks each iteration, in seed order)."""

    explore_starts: int = 0
    """Begin each train task up to this many random legal moves away from its start (exploring starts; the
    number is drawn per task, 0 included, and fixed for that task). Practice then sees states off the route the
    policy already favours. Validation and test tasks always begin at the start. Needs an environment that can
    snapshot its state (the games)."""

    validation_tasks: int = 10
    """Validation tasks per iteration: the candidate and its parent play the same ones, greedily, for the promotion
    decision. Each iteration takes the next ones of the validation split (a parent promoted on tasks it happened
    to do well on would carry that luck into every later decision on the same tasks)."""

    test_tasks: int = 10
    """Test tasks of the reported curve (the same tasks every time); never used for a decision."""

    max_steps: int | None = 12
    """Step limit per episode (None: the suite's own); the default suits FrozenLake 4x4's short paths."""

    eval_with_search: bool = False
    """Also evaluate each policy with search on the test tasks, for the curve (slower; greedy evaluation always
    runs, and only the greedy validation evaluation decides promotions)."""

    pass_k: int = 0
    """Episodes sampled from the policy alone (no search, no critic) per train task each iteration, for pass@1
    and pass@k on the train tasks beside search's success: what the policy can still reach by itself, which
    falls when it narrows. 0 (the default) skips them: they took a fifth of a default run's time and train
    nothing. They are stored (mode "sample"); they train only with
    `train.data.sampled_episodes` (their wins are mostly luck)."""

    sample_temperature: float = 1.0
    """Temperature of those samples (> 0): each action is drawn from softmax(log-prob / temperature)."""

    workers: int = 2
    """Collection processes on this machine (each with its own environment and model, one torch thread each),
    or Ray actors. Two by default: on 2 cores two one-thread workers played 1.71x the episodes of one process
    with two threads (the model's small matrices keep a second thread half idle)."""

    ray_address: str | None = None
    """A Ray cluster to collect on ("auto" or HOST:PORT), with `workers` actors writing to a shared store
    (PostgreSQL by URL when the cluster spans machines). None: local processes, and Ray is not imported."""

    seed: int = 0
    """The run's seed: search, sampling and training seeds derive from it."""

    checkpoint_dir: str | None = None
    """Where trained policies are saved; default: `practicum-checkpoints/` beside the store."""

    search: SearchConfig = field(default_factory=_default_search)
    train: TrainConfig = field(default_factory=_default_train)
    promotion: PromotionConfig = field(default_factory=PromotionConfig)
    schedule: ScheduleConfig = field(default_factory=lambda: ScheduleConfig(min_new_pairs=4, min_new_episodes=4))
    warmup: WarmupConfig = field(default_factory=WarmupConfig)
    """The format warm-up before iteration 0 (`loop.warmup`): a local base model first learns to answer with
    a legal action, with no preference between them; `warmup: {states: 0}` starts from the base model as is."""

    def __post_init__(self) -> None:
        if self.recipe not in RECIPES:
            raise ConfigError(f"recipe must be one of {', '.join(RECIPES)}; got {self.recipe!r}")
        ints = (
            ("iterations", 1),
            ("train_tasks", 1),
            ("validation_tasks", 1),
            ("test_tasks", 1),
            ("pass_k", 0),
            ("explore_starts", 0),
            ("workers", 1),
            ("seed", 0),
        )
        for name, low in ints:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ConfigError(f"{name} must be an integer >= {low}; got {value!r}")
        if self.max_steps is not None and (isinstance(self.max_steps, bool) or self.max_steps < 1):
            raise ConfigError(f"max_steps must be an integer >= 1 or None; got {self.max_steps!r}")
        temperature = self.sample_temperature
        if isinstance(temperature, bool) or not isinstance(temperature, int | float) or not temperature > 0:
            raise ConfigError(f"sample_temperature must be a positive number, e.g. 1.0; got {temperature!r}")
        budget = self.time_budget_minutes
        if budget is not None and (not isinstance(budget, int | float) or not math.isfinite(budget) or budget <= 0):
            raise ConfigError(f"time_budget_minutes must be a positive number or None; got {budget!r}")
        if self.policy.is_endpoint and self.recipe != "none":
            raise ConfigError(
                f"recipe {self.recipe!r} trains the policy, which needs local weights; a policy served at "
                f"{self.policy.base_url} can only run recipe 'none' (or pass --model with a local directory)"
            )

    @property
    def train_config(self) -> TrainConfig:
        """The training config with the method the recipe asks for; rft learns from successful episodes only
        (agentq, by default, also from the steps of failed episodes that search judged good)."""
        method = RECIPE_METHOD.get(self.recipe)
        if method is None:
            return self.train
        data = self.train.data
        if self.recipe == "rft":  # by definition: successful episodes only
            data = dataclasses.replace(data, include_failed_steps=False)
        return dataclasses.replace(self.train, method=method, data=data)  # type: ignore[arg-type]

    def to_dict(self) -> dict[str, Any]:
        """A JSON/YAML-friendly dict of every field (what the run stores)."""
        return _plain(dataclasses.asdict(self))


# Practice defaults that differ by suite, measured with benchmarks/signal_bench.py (exact move values, one round's
# data). Tic-tac-toe against an opponent that plays perfectly half of the time: 16 random rollouts per leaf made
# search's RFT rows optimal moves 87% of the time (mean regret 0.016) instead of 71% (0.047) with one rollout, and
# 48 simulations per move instead of 16 halved the step pairs that rank the worse move first (on later games 30%
# -> 12.5%; values from deeper trees lean less on the rollouts' random play), each for about the same time a game
# (the model's proposals, not the rollouts, cost it).
# FrozenLake 4x4 (docs/learning.md, "What a default round needs"): the policy sees its cell and the four next
# to it, so a round teaches as many distinct prompts as its episodes pass, and every episode passes the start.
# - Each train lake begins up to 8 random moves from its start (`explore_starts`): searched from the start only,
#   every lake taught the first steps of the route the policy already walked (right x3, down x3).
# - 24 train lakes per iteration: search costs ~1 s of one worker per lake here (random rollouts, a score cache),
#   and a round from 8 lakes held 28 distinct prompts, about what exact labels on 16 lakes held when they
#   moved nothing (benchmarks/lake_oracle.py); 36 lakes' worth moved the policy from 23% to 63%.
# - RFT targets every move search could not tell from the committed one (`rft_targets: ties`): where moves tie,
#   the committed one is the policy's prior, and exact labels chosen that way never lifted the policy (23% ->
#   23%) while every optimal move did (-> 60%).
# - Each distinct (prompt, move) once (`max_copies: 1`): 110 mined rows held 50 distinct ones, the repeats
#   mostly the start of the route, and training time is per row.
# - Four heavy-playout rollouts per leaf (`search.rollouts`; the default rollout policy "heuristic" steps onto
#   the goal and around holes), and ties within the margin alone (`tie_confidence` 0). Measured on train lakes
#   0-79 with every move proposed (benchmarks/search_labels.py, uniform prior): one random rollout and ties within
#   one standard error solved 60% of them and 75% of the RFT rows were optimal moves; these settings solved 98%
#   with 97% optimal, and which of two optimal moves search committed to no longer followed the proposal order
#   (49% the first-listed, was 71%). Checked on lakes 80-159: 95% solved, 96% optimal (was 57%, 75%).
# The default run with these went 30% -> 50% on average over seeds 0-2 (30 -> 60, 30 -> 30, 30 -> 60; with 8
# lakes, explore_starts 4 and committed targets: 30% -> 30% for each seed; learning.json's default_run).
# - 30 test lakes for the reported curve (was 10): a policy that walks one fixed route scores 30% on the first 10
#   test lakes whichever of three routes it walks, and 23%, 40% and 40% on the first 30 (benchmarks/lake_oracle.py
#   routes); 10 lakes could not see what a round changed. About a minute more per run.
# Not a default: 8 random rollouts per leaf (`search.rollouts`). They made search's committed moves 98-100%
# optimal instead of 87-97% and solved more train lakes, but the same three seeds ended at 40%, 10% and 10%
# validation success instead of 40% each, and took longer (docs/learning.md).
# - Rounds stack (`train.start_from: policy`, each round on its own new rows, `data.aggregate: false`) and RFT runs
#   5 passes instead of 3. A round's own rows support 63-77% on the test lakes (a lookup table of them,
#   benchmarks/round_fit.py), but three passes at 1e-3 left the policy at 40%: it fitted 71-94% of its own rows'
#   prompts, and scored "right" alike whether right was ice or a hole. Eight passes on the same rows: fit 98%,
#   greedy 70% (3 passes: 85%, 23%); batch 2, lr 3e-3, full fine-tuning at 1e-4 or a constant schedule did not get
#   there. With rounds stacked, seed 0 of the default run went 23% -> 43% -> 97% with 8 passes (18.3 minutes) and
#   23% -> 40% -> 67% with 5 (12.9 minutes). Eight since TRL's LM head scores only the move's tokens on a CPU
#   too (`trainer.stages.completion_positions_only`: a pass 1.2-1.4x faster, benchmarks/head_bench.py), which
#   pays for most of the three extra passes.
# Tic-tac-toe's DPO stage trains on every step pair, twice, at 5e-4 (the practice default is 8 steps of 4 pairs at
# 1e-4: 32 of a round's pairs seen once). Search's step pairs here are right 95% of the time by exact values (218
# pairs over 125 positions from two rounds of 12 games) and they were the recipe's strongest signal, left unread:
# trained on all of them, twice at 5e-4, the warmed-up policy went from 55% to 65% of the test games won (its top
# move optimal on 60% -> 80% of their positions; one configuration, not tuned), where DPO's 8 steps moved its loss
# from 0.693 to 0.682 and the policy nowhere (docs/learning.md, "Tic-tac-toe: the step pairs were left unread").
SUITE_DEFAULTS: dict[str, dict[str, Any]] = {
    "tictactoe": {
        "search": {"rollouts": 16, "simulations": 48},
        "train": {"dpo": {"learning_rate": 5e-4, "epochs": 2.0, "max_steps": 0}},
    },
    "frozenlake-4x4": {
        "explore_starts": 8,
        "train_tasks": 24,
        "test_tasks": 30,
        "search": {"rollouts": 4},
        "train": {
            "start_from": "policy",
            "rft": {"epochs": 10},
            "data": {"rft_targets": "ties", "max_copies": 1, "aggregate": False},
        },
    },
}


def config_from_dict(data: dict[str, Any]) -> PracticeConfig:
    """Build a `PracticeConfig` from nested plain data; unknown keys fail with a did-you-mean.

    Nested sections are laid over the practice defaults key by key: `search: {simulations: 6}` changes the
    simulations and keeps the practice run's other search settings (not `SearchConfig`'s own defaults). The
    suite's own defaults (`SUITE_DEFAULTS`) come between the two.
    """
    _check_keys(data, PracticeConfig, "")
    suite = data.get("suite", PracticeConfig.suite)
    merged = overlay(overlay(PracticeConfig().to_dict(), SUITE_DEFAULTS.get(str(suite), {})), data)
    try:
        return dacite.from_dict(
            PracticeConfig, merged, config=dacite.Config(strict=True, cast=[tuple], check_types=True)
        )
    except dacite.WrongTypeError as exc:
        allowed = typing.get_args(exc.field_type) if typing.get_origin(exc.field_type) is Literal else ()
        if allowed:
            options = ", ".join(repr(a) for a in allowed)
            raise ConfigError(f"config key {exc.field_path!r} must be one of {options}; got {exc.value!r}") from None
        raise ConfigError(f"bad practice config: {exc}") from None
    except dacite.DaciteError as exc:
        raise ConfigError(f"bad practice config: {exc}") from None


def load_config(path: str | Path, overrides: dict[str, Any] | None = None) -> PracticeConfig:
    """Read a YAML config file and apply `overrides` (top-level keys) on top of it."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file {str(path)!r} does not exist; check the path") from None
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config file {str(path)!r} is not valid YAML: {exc}".splitlines()[0]) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"config file {str(path)!r} must hold a mapping of settings, not {type(data).__name__}")
    return config_from_dict(overlay(data, overrides or {}))


def _check_keys(data: Any, cls: type, prefix: str) -> None:
    """Fail on an unknown key at any depth, suggesting the closest known one."""
    if not isinstance(data, dict):
        raise ConfigError(f"{prefix.rstrip('.') or 'config'} must be a mapping of settings; got {data!r}")
    hints = typing.get_type_hints(cls)
    for key, value in data.items():
        if key not in hints:
            close = difflib.get_close_matches(str(key), list(hints), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else f"; known keys: {', '.join(hints)}"
            raise ConfigError(f"unknown config key {prefix + str(key)!r}{hint}")
        if dataclasses.is_dataclass(hints[key]) and value is not None:
            _check_keys(value, hints[key], f"{prefix}{key}.")


def parse_sets(items: Sequence[str]) -> dict[str, Any]:
    """Dotted settings as a nested mapping: `["train.rft.learning_rate=1e-4"]` -> `{"train": {"rft":
    {"learning_rate": 1e-4}}}`. Values are read as YAML (numbers, booleans, lists, null); a key named twice takes
    its last value. A setting without a dotted key, "=" and a value is a `ConfigError` naming it."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        parts = key.strip().split(".")
        if not sep or any(not part for part in parts):
            raise ConfigError(f"setting {item!r}: write a dotted key, '=' and a value, e.g. search.simulations=16")
        node = out
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"setting {item!r}: {part!r} was given a value and cannot also hold keys")
        try:
            parsed = yaml.safe_load(value)
        except yaml.YAMLError as exc:
            raise ConfigError(f"setting {item!r}: the value is not valid YAML ({exc.__class__.__name__})") from None
        if isinstance(parsed, str):  # YAML 1.1 reads 1e-4 (no dot) as text
            with contextlib.suppress(ValueError):
                parsed = float(parsed)
        node[parts[-1]] = parsed
    return out


def overlay(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    """`base` with `top`'s keys laid over it, mappings merged key by key at every depth."""
    out = dict(base)
    for key, value in top.items():
        below = out.get(key)
        out[key] = overlay(below, value) if isinstance(below, dict) and isinstance(value, dict) else value
    return out


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value
