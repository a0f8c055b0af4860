"""The format warm-up: SFT on every legal action of train states, so practice starts from a model that answers
in the format."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from practicum.agents.base import StepContext
from practicum.agents.local import LocalModel, LocalPolicy
from practicum.envs.registry import get_suite
from practicum.errors import ConfigError
from practicum.loop.warmup import FILLS, WarmupConfig, format_examples, format_states, warm_up


def legal_mass(policy: LocalPolicy, states: list[StepContext]) -> float:
    """Mean probability the policy puts on the legal actions (each followed by end-of-turn)."""
    masses = []
    for state in states:
        scored = policy.score(state, list(state.legal_actions or ()))
        masses.append(sum(math.exp(c.logprob or -math.inf) for c in scored.candidates))
    return sum(masses) / len(masses)


def test_format_states_are_reproducible_train_states_with_legal_actions() -> None:
    suite = get_suite("frozenlake-4x4")
    config = WarmupConfig(states=6, max_walk=2, seed=3)
    states = format_states(suite, config)
    assert len(states) == 6
    assert all(s.legal_actions and s.history == () for s in states)
    assert [s.observation for s in states] == [s.observation for s in format_states(suite, config)]


def test_format_examples_make_one_row_per_legal_action_with_the_exact_policy_prompt() -> None:
    states = [
        StepContext(goal="g", observation="o1", legal_actions=("left", "down")),
        StepContext(goal="g", observation="o2", legal_actions=("up", "up", "right")),
    ]
    rows = format_examples(states, lambda s: f"PROMPT[{s.observation}]")
    assert [(r.prompt, r.completion) for r in rows] == [
        ("PROMPT[o1]", "left"),
        ("PROMPT[o1]", "down"),
        ("PROMPT[o2]", "up"),
        ("PROMPT[o2]", "right"),
    ]
    assert {r.kind for r in rows} == {"format"}


def test_template_rows_fill_the_slot_with_consecutive_goal_words_never_the_placeholder() -> None:
    goal = "Buy a red cotton t-shirt, size M, under $20."
    states = [StepContext(goal=goal, observation="o", legal_actions=("click[1]", "search[<query>]", "type[2][<text>]"))]
    words = goal.replace(",", "").replace(".", "").split()
    fills = []
    for seed in range(30):
        rows = format_examples(states, lambda s: "P", seed)
        assert len(rows) == 1 + 2 * FILLS and rows[0].completion == "click[1]"
        search, typed = rows[1].completion, rows[1 + FILLS].completion
        assert all(r.completion.startswith("search[") for r in rows[1 : 1 + FILLS])
        assert search.startswith("search[") and search.endswith("]") and typed.startswith("type[2][")
        fill = search[len("search[") : -1].split()
        assert "<" not in search + typed and 1 <= len(fill) <= 4
        assert any(words[i : i + len(fill)] == fill for i in range(len(words)))  # a run of the goal's words
        fills.append(" ".join(fill))
    assert len(set(fills)) > 5  # different runs for different seeds
    assert format_examples(states, lambda s: "P", 3) == format_examples(states, lambda s: "P", 3)


@pytest.mark.parametrize("field,value", [("states", -1), ("steps", 0), ("learning_rate", 2.0), ("batch_size", 0)])
def test_bad_warmup_settings_name_the_field(field: str, value: object) -> None:
    with pytest.raises(ConfigError, match=f"warmup.{field}"):
        WarmupConfig(**{field: value})  # type: ignore[arg-type]


def test_warm_up_raises_the_mass_on_legal_actions_and_is_done_once(tiny_model_dir: Path, tmp_path: Path) -> None:
    suite = get_suite("frozenlake-4x4")
    config = WarmupConfig(states=6, steps=6, batch_size=4, learning_rate=0.02)
    probe = format_states(suite, WarmupConfig(states=6, seed=9))
    before = legal_mass(LocalPolicy(LocalModel(tiny_model_dir)), probe)
    notes: list[str] = []
    warmed = warm_up(tiny_model_dir, suite, config, tmp_path, notes.append)
    assert warmed != tiny_model_dir.resolve() and (warmed / "config.json").is_file()
    after = legal_mass(LocalPolicy(LocalModel(warmed)), probe)
    assert after > 2 * before
    again: list[str] = []
    assert warm_up(tiny_model_dir, suite, config, tmp_path, again.append) == warmed
    assert any("reusing" in n for n in again) and not any("reusing" in n for n in notes)
    # A different setting is a different warm-up, not the cached one.
    other = warm_up(tiny_model_dir, suite, WarmupConfig(states=6, steps=1, batch_size=4), tmp_path, notes.append)
    assert other != warmed


@pytest.mark.slow
def test_warm_up_puts_most_of_the_default_models_mass_on_legal_actions(tmp_path: Path) -> None:
    """The measured defect: the default model put ~0.03% of its mass on FrozenLake's legal actions."""
    from practicum.agents.default import default_model_dir

    suite = get_suite("frozenlake-4x4")
    probe = format_states(suite, WarmupConfig(states=12, seed=7))
    base = default_model_dir()
    before = legal_mass(LocalPolicy(LocalModel(base)), probe)
    warmed = warm_up(base, suite, WarmupConfig(), tmp_path, lambda _: None)
    after = legal_mass(LocalPolicy(LocalModel(warmed)), probe)
    assert before < 0.05
    assert after >= 0.5
