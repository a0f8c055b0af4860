"""`SearchConfig`: every knob of the per-episode search, typed, documented and checked on construction."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from practicum.checks import choice, int_at_least, number
from practicum.errors import ConfigError

Mode = Literal["search", "greedy", "sample"]
Selection = Literal["puct", "uct"]
Evaluation = Literal["rollout", "reward", "critic"]
CommitRule = Literal["visits", "q"]
RolloutPolicy = Literal["policy", "random", "heuristic"]

MODES: tuple[Mode, ...] = ("search", "greedy", "sample")
SELECTIONS: tuple[Selection, ...] = ("puct", "uct")
EVALUATIONS: tuple[Evaluation, ...] = ("rollout", "reward", "critic")
COMMIT_RULES: tuple[CommitRule, ...] = ("visits", "q")
ROLLOUT_POLICIES: tuple[RolloutPolicy, ...] = ("policy", "random", "heuristic")


@dataclass(frozen=True)
class SearchConfig:
    """How one episode is searched (Agent Q's online MCTS) or played greedily.

    With `mode="search"`, every committed step runs up to `simulations` simulations from the committed node
    (propose -> critique -> select -> expand -> evaluate -> back up), stops early when `wall_clock_s` has
    passed, then commits to the best child by `commit` and searches on from there. With `mode="greedy"` no
    search happens: each step takes the policy's most likely action, through the same API and result type.
    With `mode="sample"` each step draws one action from the policy at `temperature` (pass@k estimates).
    """

    mode: Mode = "search"
    """"search" runs MCTS before every step; "greedy" takes the policy's top action (no critic, no search);
    "sample" draws each action from the policy at `temperature` (no critic, no search)."""

    simulations: int = 8
    """Simulations run from the committed node before each commit (>= 1)."""

    max_depth: int = 5
    """How many levels below the committed node a simulation may descend before it evaluates (>= 1)."""

    k: int = 3
    """Candidate actions the policy proposes at each node (>= 1); they become the node's children."""

    selection: Selection = "uct"
    """Child selection rule: "puct" (Q^ + c·P·sqrt(N)/(1+n), priors from the policy) or "uct" (UCB1)."""

    exploration: float = 1.0
    """The exploration constant c of PUCT or UCT (>= 0; 0 selects by Q^ alone)."""

    alpha: float = 0.5
    """Weight of the search value in Q^ = alpha·Q_mcts + (1 - alpha)·critic score, in [0, 1]."""

    evaluation: Evaluation = "rollout"
    """How a new leaf is valued: "rollout" (play the policy for `rollout_depth` steps and sum the rewards),
    "reward" (the environment's reward for reaching the leaf only) or "critic" (the critic's best score among
    the leaf's proposed children)."""

    rollout_depth: int = 10
    """Most policy steps one rollout plays past the leaf (>= 0; 0 makes "rollout" behave like "reward")."""

    rollouts: int = 1
    """Rollouts averaged into one leaf evaluation (>= 1). Random rollouts cost no model call, so in a cheap
    environment (a board game) several per leaf turn a coin flip into an estimate at almost no cost; with the
    model rolling out, each one costs `rollout_depth` model calls."""

    resample_chance: bool = True
    """Expansions and rollouts during search draw the environment's chance events afresh
    (`TextEnv.reseed_chance`: an opponent's random moves), from seeds derived from `seed`, instead of the
    ones this episode's saved generator holds. Without it every sibling expanded from one node meets the same
    coin flip and every simulation knows the opponent's coming flips, so search learns which moves win this
    game rather than which are good. Greedy and sampled play always meet the episode's own chance."""

    propose_playout: bool = False
    """Also propose, at every node search expands, the environment's rule-of-thumb action
    (`TextEnv.playout_action`, where it gives one and the policy did not propose it), first among the children
    and with the policy's own log-prob as its prior. Search can then find what the policy would not propose, and
    the policy learns from what search commits to (expert iteration with a teacher inside search, not at
    test time). Off by default; the shop's learning runs turn it on (`benchmarks/learning.py`)."""

    rollout_policy: RolloutPolicy = "policy"
    """Who plays rollouts: "policy" (the model, one call per step), "random" (a uniformly random legal
    action: classic MCTS's free rollouts, which see sparse rewards a confident but wrong model never reaches;
    where the environment lists no legal actions the model plays instead) or "heuristic" (the environment's
    own rule of thumb, `TextEnv.playout_action`, e.g. a board game's "win when you can, do not leave the
    opponent a win": heavy playouts, free like random ones but less biased; random where it has none)."""

    wall_clock_s: float | None = None
    """Wall-clock seconds of search allowed per committed step (> 0), or None for no cap. The step commits
    after the simulations or this cap, whichever comes first; results are only reproducible without it."""

    discount: float = 1.0
    """Discount applied to rewards one step further down a trajectory, in (0, 1]."""

    seed: int = 0
    """Seed for everything random in search: rollout sampling, the seeds passed to the policy and the chance
    seeds of expansions and rollouts (`resample_chance`)."""

    temperature: float = 0.0
    """Sampling temperature passed to the policy for free-text proposals and rollouts (>= 0; 0 is greedy)."""

    commit: CommitRule = "visits"
    """Which child to commit to after the budget: "visits" (most visited) or "q" (highest Q^ among visited)."""

    rationale: bool = False
    """Ask the critic for a short rationale with its scores (slower: the critic generates text)."""

    def __post_init__(self) -> None:
        choice("SearchConfig.mode", self.mode, MODES)
        choice("SearchConfig.selection", self.selection, SELECTIONS)
        choice("SearchConfig.evaluation", self.evaluation, EVALUATIONS)
        choice("SearchConfig.commit", self.commit, COMMIT_RULES)
        choice("SearchConfig.rollout_policy", self.rollout_policy, ROLLOUT_POLICIES)
        int_at_least("SearchConfig.simulations", self.simulations, 1, "run at least one simulation per step")
        int_at_least("SearchConfig.max_depth", self.max_depth, 1, "let simulations descend at least one level")
        int_at_least("SearchConfig.k", self.k, 1, "propose at least one candidate per node")
        int_at_least("SearchConfig.rollout_depth", self.rollout_depth, 0, "use 0 for no rollout")
        int_at_least("SearchConfig.rollouts", self.rollouts, 1, "average at least one rollout per leaf")
        int_at_least("SearchConfig.seed", self.seed, 0, "use a non-negative integer seed")
        number("SearchConfig.exploration", self.exploration, lambda v: v >= 0, "use a value >= 0, e.g. 1.0")
        number("SearchConfig.alpha", self.alpha, lambda v: 0 <= v <= 1, "use a weight between 0 and 1, e.g. 0.5")
        number("SearchConfig.discount", self.discount, lambda v: 0 < v <= 1, "use a discount in (0, 1], e.g. 1.0")
        number(
            "SearchConfig.temperature", self.temperature, lambda v: v >= 0, "use 0 for greedy or a positive temperature"
        )
        if self.mode == "sample" and self.temperature <= 0:
            raise ConfigError(
                f"SearchConfig(mode='sample') needs a positive temperature to sample from; got {self.temperature}. "
                "Use e.g. temperature=1.0, or mode='greedy' for the top action"
            )
        if self.wall_clock_s is not None:
            number(
                "SearchConfig.wall_clock_s",
                self.wall_clock_s,
                lambda v: v > 0,
                "use a positive number of seconds or None",
            )

    @property
    def searches(self) -> bool:
        """Whether this configuration searches (True) or plays greedily (False)."""
        return self.mode == "search"

    @property
    def consults_critic(self) -> bool:
        """Whether the search reads a critic: its scores are blended into Q^ (alpha < 1) or value the leaves."""
        return self.searches and (self.alpha < 1.0 or self.evaluation == "critic")
