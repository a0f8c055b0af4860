"""A tiny game whose best moves are known, and scripted agents for it (real `TextEnv`, real `Policy`/`Critic`).

The game: pick one of `options` at each of `len(secret)` steps; only the sequence `secret` wins (reward 1),
every other full sequence loses (reward 0). The scripted policy prefers whatever its table says, so tests can
build a policy whose greedy play misses the secret and check that search finds it.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from typing import Any

from practicum.agents.base import Candidate, Critic, Critique, Policy, Proposal, StepContext
from practicum.envs.core import FailureKind, Outcome, Task, TextEnv
from practicum.errors import ModelError

SECRET = ("b", "a", "c")
OPTIONS = ("a", "b", "c")


def choice_task(seed: int) -> Task:
    return Task(suite="choice", seed=seed, split="train", goal="Find the secret sequence.")


class ChoiceGameNoSnapshot(TextEnv):
    """The choice game without snapshot support: search must replay action prefixes."""

    def __init__(
        self,
        secret: Sequence[str] = SECRET,
        options: Sequence[str] = OPTIONS,
        *,
        step_reward: float = 0.0,
        max_steps: int = 10,
    ) -> None:
        super().__init__(suite="choice", task_factory=choice_task, max_steps=max_steps)
        self.secret = tuple(secret)
        self.options = tuple(options)
        self.step_reward = step_reward  # a reward for every step that agrees with the secret so far
        self.picks: list[str] = []
        self.resets = 0
        self.applied = 0

    def _start(self, task: Task) -> None:
        self.resets += 1
        self.picks = []

    def _render(self) -> str:
        return "Picked so far: " + (" ".join(self.picks) or "(nothing)")

    def _legal_actions(self) -> list[str]:
        return list(self.options)

    def _apply(self, action: Any) -> Outcome:
        self.applied += 1
        self.picks.append(action)
        on_track = tuple(self.picks) == self.secret[: len(self.picks)]
        if len(self.picks) < len(self.secret):
            return Outcome(reward=self.step_reward if on_track else 0.0)
        if on_track:
            return Outcome(reward=1.0, terminated=True, success=True)
        return Outcome(reward=0.0, terminated=True, failure=FailureKind.AGENT)


class ChoiceGame(ChoiceGameNoSnapshot):
    """The choice game with snapshot support."""

    def _get_state(self) -> Any:
        return list(self.picks)

    def _set_state(self, state: Any) -> None:
        self.picks = list(state)


class DriftingGame(ChoiceGameNoSnapshot):
    """Not reproducible under replay: the observation shows how many times the game was reset."""

    def _render(self) -> str:
        return f"Game #{self.resets}. " + super()._render()


class CrashingGame(ChoiceGame):
    """Its machinery dies (like a browser process) after `crash_after` applied actions."""

    def __init__(self, crash_after: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.crash_after = crash_after

    def _apply(self, action: Any) -> Outcome:
        if self.applied >= self.crash_after:
            raise RuntimeError("browser process died")
        return super()._apply(action)


class CoinGame(TextEnv):
    """A game of chance with a generator seeded by the episode: "bet" then "flip" wins (reward 1) on heads and
    loses on tails; "pass" then "flip" scores `sure` whatever the coin says. `heads` fixes what the episode's
    own generator will show at the flip, so a search that can see the future values "bet" at 1 or 0."""

    def __init__(self, *, heads: bool = True, sure: float = 0.9) -> None:
        super().__init__(suite="coin", task_factory=choice_task, max_steps=5)
        self.heads = heads
        self.sure = sure
        self.picks: list[str] = []
        self._coin = random.Random()

    def _start(self, task: Task) -> None:
        self.picks = []
        seed = next(s for s in range(100) if (random.Random(s).random() < 0.5) == self.heads)
        self._coin = random.Random(seed)

    def _render(self) -> str:
        return "Picked so far: " + (" ".join(self.picks) or "(nothing)")

    def _legal_actions(self) -> list[str]:
        return ["bet", "pass"] if not self.picks else ["flip"]

    def _apply(self, action: Any) -> Outcome:
        self.picks.append(action)
        if action != "flip":
            return Outcome()
        heads = self._coin.random() < 0.5
        reward = self.sure if self.picks[0] == "pass" else float(heads)
        won = reward == 1.0
        return Outcome(reward=reward, terminated=True, success=won, failure=None if won else FailureKind.AGENT)

    def _get_state(self) -> Any:
        return list(self.picks), self._coin.getstate()

    def _set_state(self, state: Any) -> None:
        picks, coin = state
        self.picks = list(picks)
        self._coin.setstate(coin)

    def reseed_chance(self, seed: int) -> bool:
        self._coin = random.Random(seed)
        return True


class DiceGameNoSnapshot(TextEnv):
    """A game of chance whose every step shows a die roll: pick one of `options`, then a die of `faces` is
    rolled by a generator seeded from the task, so that the observation tells which draw a step met. After
    `turns` turns the episode ends with the last roll (scaled to [0, 1]) as its reward. No snapshot support:
    search must replay action prefixes."""

    def __init__(self, *, options: Sequence[str] = OPTIONS, faces: int = 1000, turns: int = 2) -> None:
        super().__init__(suite="dice", task_factory=choice_task, max_steps=turns + 1)
        self.options = tuple(options)
        self.faces = faces
        self.turns = turns
        self.picks: list[str] = []
        self.rolls: list[int] = []
        self._dice = random.Random()

    def _start(self, task: Task) -> None:
        self.picks, self.rolls = [], []
        self._dice = random.Random(task.seed)

    def _render(self) -> str:
        return f"Picks: {' '.join(self.picks) or '-'}. Rolls: {' '.join(map(str, self.rolls)) or '-'}."

    def _legal_actions(self) -> list[str]:
        return list(self.options)

    def _apply(self, action: Any) -> Outcome:
        self.picks.append(action)
        self.rolls.append(self._dice.randrange(self.faces))
        if len(self.rolls) < self.turns:
            return Outcome()
        reward = self.rolls[-1] / (self.faces - 1)
        won = reward >= 0.5
        return Outcome(reward=reward, terminated=True, success=won, failure=None if won else FailureKind.AGENT)

    def reseed_chance(self, seed: int) -> bool:
        self._dice = random.Random(seed)
        return True


class DiceGame(DiceGameNoSnapshot):
    """The dice game with snapshot support: the snapshot holds the dice's generator, as a board game's does."""

    def _get_state(self) -> Any:
        return list(self.picks), list(self.rolls), self._dice.getstate()

    def _set_state(self, state: Any) -> None:
        picks, rolls, dice = state
        self.picks, self.rolls = list(picks), list(rolls)
        self._dice.setstate(dice)


def rolls(observation: str | None) -> list[int]:
    """The die rolls a dice game's observation shows."""
    found = re.search(r"Rolls: ([\d ]+)\.", observation or "")
    return [int(r) for r in found.group(1).split()] if found else []


class TablePolicy(Policy):
    """Scores each action by a fixed table (unknown actions get `default`); optional seeded noise.

    `by_step[i]`, when given, replaces the table at the i-th step of an episode (i = length of the history).

    With `noise > 0` and a seed, Gumbel noise is added to the log-probabilities before ranking, so the
    proposals depend on the seed search passes (and on nothing else).
    """

    name = "table"

    def __init__(
        self,
        table: dict[str, float],
        *,
        default: float = -3.0,
        by_step: Sequence[dict[str, float]] = (),
        noise: float = 0.0,
        extra: Sequence[str] = (),
        invalid_outputs: int = 0,
        clock: FakeClock | None = None,
        seconds_per_call: float = 0.0,
    ) -> None:
        self.table = table
        self.default = default
        self.by_step = list(by_step)
        self.noise = noise
        self.extra = tuple(extra)  # free-text candidates proposed on top of the legal ones
        self.invalid_outputs = invalid_outputs
        self.clock = clock
        self.seconds_per_call = seconds_per_call
        self.contexts: list[StepContext] = []

    def propose(self, context: StepContext, k: int, *, temperature: float = 1.0, seed: int | None = None) -> Proposal:
        self.contexts.append(context)
        if self.clock is not None:
            self.clock.advance(self.seconds_per_call)
        rng = random.Random(seed)
        actions = list(context.legal_actions or ()) + list(self.extra)
        step = len(context.history)
        table = self.by_step[step] if step < len(self.by_step) else self.table
        scored = []
        for action in actions:
            logprob = table.get(action, self.default)
            key = logprob + (self.noise * -_log(-_log(rng.random())) if self.noise else 0.0)
            scored.append((key, action, logprob))
        scored.sort(key=lambda t: -t[0])
        return Proposal(
            prompt=f"PROMPT[{context.observation}]",
            candidates=[Candidate(a, lp) for _, a, lp in scored[:k]],
            prompt_tokens=len(context.observation.split()),
            completion_tokens=k,
            invalid_outputs=self.invalid_outputs,
        )

    def score(self, context: StepContext, actions: Sequence[str]) -> Proposal:
        return Proposal(
            prompt=f"PROMPT[{context.observation}]",
            candidates=[Candidate(a, self.table.get(a, self.default)) for a in actions],
        )


class BrokenPolicy(Policy):
    """An endpoint that cannot be reached."""

    def propose(self, context: StepContext, k: int, *, temperature: float = 1.0, seed: int | None = None) -> Proposal:
        raise ModelError("cannot reach http://127.0.0.1:9/v1: connection refused; start the server")

    def score(self, context: StepContext, actions: Sequence[str]) -> Proposal:
        raise ModelError("unreachable")


class TableCritic(Critic):
    """Scores each action by a fixed table (0.5 for unknown ones); `parsed=False` mimics unusable output."""

    def __init__(
        self,
        table: dict[str, float] | None = None,
        *,
        parsed: bool = True,
        clock: FakeClock | None = None,
        seconds_per_call: float = 0.0,
    ) -> None:
        self.table = table or {}
        self.parsed = parsed
        self.clock = clock
        self.seconds_per_call = seconds_per_call
        self.calls = 0

    def critique(self, context: StepContext, actions: Sequence[str], *, rationale: bool = False) -> Critique:
        self.calls += 1
        if self.clock is not None:
            self.clock.advance(self.seconds_per_call)
        scores = [self.table.get(a, 0.5) if self.parsed else 0.5 for a in actions]
        return Critique(
            prompt=f"CRITIC[{context.observation}]",
            actions=list(actions),
            scores=scores,
            rationale="by the table" if rationale else None,
            parsed=self.parsed,
            prompt_tokens=3,
            completion_tokens=1,
        )


class OracleCritic(Critic):
    """Knows the secret: the next secret move scores `good`, every other move `bad` (swap them to mislead)."""

    def __init__(self, secret: Sequence[str] = SECRET, *, good: float = 0.9, bad: float = 0.1) -> None:
        self.secret = tuple(secret)
        self.good, self.bad = good, bad

    def critique(self, context: StepContext, actions: Sequence[str], *, rationale: bool = False) -> Critique:
        step = len(context.history)
        wanted = self.secret[step] if step < len(self.secret) else None
        scores = [self.good if a == wanted else self.bad for a in actions]
        return Critique(prompt="ORACLE", actions=list(actions), scores=scores)


class FakeClock:
    """A clock that moves only when told to (and by `tick` at every reading): no timing flakiness."""

    def __init__(self, tick: float = 0.0) -> None:
        self.now = 0.0
        self.tick = tick

    def __call__(self) -> float:
        now = self.now
        self.now += self.tick
        return now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def _log(x: float) -> float:
    import math

    return math.log(max(x, 1e-12))
