"""The format warm-up: teach the base model to answer with a legal action before practice starts.

A pretrained chat model answers a game's prompt in prose: the default SmolLM2-135M-Instruct put 0.03% of its
probability on FrozenLake's legal actions and 0.4% on tic-tac-toe's ("You", "1" and "The" came first). Then the
first practice round spends its SFT steps learning the answer format (loss 4.7 -> 1.2) instead of which move is
good, and DPO compares two actions the policy almost never says. The warm-up is a short SFT on states of the
train split where every legal action is a target once: the loss is lowest when all legal actions share the
probability equally, so the model learns the format and no preference between moves. Practice starts from the
warmed-up model (iteration 0 is evaluated after it), so the learning curve measures practice alone.

The warmed-up model is written once per (base model, suite, settings, prompt version) under the checkpoint
root and reused by later runs.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from practicum.agents import prompts, templates
from practicum.agents.base import StepContext
from practicum.agents.policy import GOAL_FILL_WORDS
from practicum.checks import int_at_least, number
from practicum.envs.registry import Suite
from practicum.trainer.checkpoints import model_signature
from practicum.trainer.config import LoraSettings, RFTSettings, TrainConfig
from practicum.trainer.mining import RFTExample

# What the rows are made of, in the cache key: 2 lists templates in the prompt and teaches them filled (1 left
# them out). Suites without templates get the same rows as before, under a new key.
ROWS_VERSION = 2
# Rows per template action, each with another fill. With one, a shop warm-up (10 steps of 8 rows out of ~530)
# saw about five filled slots and went on filling them with "<query>", "13" or "1"; a template stands for every
# reply that starts with its fixed part, so it gets more rows than one concrete action.
FILLS = 3


@dataclass(frozen=True)
class WarmupConfig:
    """The format warm-up before practice (local models only). `states` 0 turns it off."""

    states: int = 40
    """Train-split states to teach the format on (>= 0; 0: no warm-up). Each legal action of each is a row."""

    max_walk: int = 3
    """A state is reached by up to this many uniformly random legal moves from a train task's start (>= 0)."""

    steps: int = 10
    """SFT optimizer steps (>= 1)."""

    batch_size: int = 8
    """Rows per optimizer step (>= 1)."""

    learning_rate: float = 3e-4
    """LoRA learning rate (> 0, < 1)."""

    seed: int = 0
    """Seed for the walks, the row order and the adapter's initialisation (>= 0)."""

    def __post_init__(self) -> None:
        for name, low in (("states", 0), ("max_walk", 0), ("steps", 1), ("batch_size", 1), ("seed", 0)):
            int_at_least(f"warmup.{name}", getattr(self, name), low, f"use an integer >= {low}")
        number("warmup.learning_rate", self.learning_rate, lambda v: 0 < v < 1, "use a number in (0, 1), e.g. 3e-4")


def format_states(suite: Suite, config: WarmupConfig) -> list[StepContext]:
    """`config.states` decision points of the suite's train split, each reached by a short random walk.

    Only states with a closed list of legal actions count (free-text steps have no format to teach); the list
    is kept whole, templates included, as the policy will read it. Walks take concrete actions only. Each walk
    starts a fresh train task, in seed order, so the states are reproducible.
    """
    rng = random.Random(config.seed)
    states: list[StepContext] = []
    env = suite.env()
    try:
        for task in suite.tasks("train", limit=max(config.states * 2, 1)):
            if len(states) >= config.states:
                break
            obs, info = env.reset(options={"task": task})
            done = False
            for _ in range(rng.randint(0, config.max_walk)):
                legal = templates.concrete(list(info.get("legal_actions") or []))
                if not legal:
                    break
                obs, _, terminated, truncated, info = env.step(rng.choice(legal))
                if terminated or truncated:
                    done = True
                    break
            legal = list(info.get("legal_actions") or [])
            if not done and legal:
                states.append(StepContext(goal=task.goal, observation=obs, history=(), legal_actions=tuple(legal)))
    finally:
        env.close()
    return states


def format_examples(
    states: Sequence[StepContext], render: Callable[[StepContext], str], seed: int = 0
) -> list[RFTExample]:
    """One SFT row per legal action of every state: the exact policy prompt and the action.

    A template action (`search[<query>]`) is taught filled, never with its placeholder, in `FILLS` rows: each
    slot holds a run of one to `GOAL_FILL_WORDS` consecutive words of the goal, drawn from `seed` (the runs a
    policy's default fill chooses among). A model that never saw a filled slot, writing it itself, copied the
    placeholder or a number from the page (the shop's 288 searches and typings of one practice run before
    this: "<answer>", "<query>", "4" and the like, not one product word). The goal is where a query's words come
    from; which run of them works is for practice to find.
    """
    rng = random.Random(seed)
    rows: list[RFTExample] = []
    for state in states:
        prompt = render(state)
        for action in dict.fromkeys(state.legal_actions or ()):
            template = templates.parse(action)
            completions = (
                [action] if template is None else [template.fill(goal_words(state.goal, rng)) for _ in range(FILLS)]
            )
            rows.extend(
                RFTExample(
                    kind="format",  # a kind of its own: not mined from the store
                    task="",
                    prompt=prompt,
                    completion=completion,
                    episode_id=0,
                    node_idx=0,
                    policy_id=None,
                    value=None,
                )
                for completion in completions
            )
    return rows


def goal_words(goal: str, rng: random.Random) -> str:
    """One to `GOAL_FILL_WORDS` consecutive words of `goal` (punctuation around them dropped), drawn from `rng`."""
    words = templates.words(goal)
    if not words:
        return ""
    size = rng.randint(1, min(GOAL_FILL_WORDS, len(words)))
    start = rng.randrange(len(words) - size + 1)
    return " ".join(words[start : start + size])


def warm_up(
    base_dir: str | Path, suite: Suite, config: WarmupConfig, root: str | Path, note: Callable[[str], None]
) -> Path:
    """The warmed-up copy of the model in `base_dir` for `suite` (trained now, or found from an earlier run)."""
    from transformers import AutoTokenizer

    from practicum.trainer.rft import train_rft

    base = Path(base_dir).resolve()
    key = _cache_key(base, suite.name, config)
    out = Path(root) / f"format-{suite.name}-{key}"
    model_dir = out / "model"
    if (model_dir / "config.json").is_file():
        note(f"format warm-up: reusing {model_dir}")
        return model_dir
    tokenizer = AutoTokenizer.from_pretrained(base)
    states = format_states(suite, config)
    rows = format_examples(states, lambda s: prompts.render(tokenizer, prompts.policy_messages(s)), config.seed)
    if not rows:
        note(f"format warm-up: {suite.name} has no states with legal actions; practice starts from the base model")
        return base
    random.Random(config.seed).shuffle(rows)
    note(f"format warm-up: {config.steps} SFT steps on {len(rows)} (state, legal action) rows of {len(states)} states")
    train = TrainConfig(
        method="rft",
        finetune="lora",
        lora=LoraSettings(),
        rft=RFTSettings(
            learning_rate=config.learning_rate,
            max_steps=config.steps,
            batch_size=config.batch_size,
            micro_batch_size=config.batch_size,
        ),
        seed=config.seed,
    )
    result = train_rft(base, rows, out, train)
    (out / "warmup.json").write_text(
        json.dumps({"base": str(base), "suite": suite.name, "config": asdict(config), "metrics": result.metrics})
    )
    loss = result.metrics.get("train/rft_loss_first"), result.metrics.get("train/rft_loss_last")
    note(f"format warm-up done: loss {_fmt(loss[0])} -> {_fmt(loss[1])}")
    return result.model_dir


def _cache_key(base: Path, suite: str, config: WarmupConfig) -> str:
    ident = {
        "base": str(base),
        "signature": model_signature(base),
        "suite": suite,
        "config": asdict(config),
        "prompt": prompts.PROMPT_VERSION,
        "rows": ROWS_VERSION,
    }
    return hashlib.sha256(json.dumps(ident, sort_keys=True, default=str).encode()).hexdigest()[:12]


def _fmt(value: object) -> str:
    return f"{value:.2f}" if isinstance(value, float) else "?"
