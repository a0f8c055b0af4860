"""The result of one episode: its search tree as plain dataclasses, and how the episode ended.

Everything here is plain data (str, int, float, bool, None, lists of them); the tree pickles and compares by
value. Field names are the store's (`store.records.NodeRecord`, `EpisodeRecord`): `Node.row()` is a node row
keyed `(episode, idx)` with `parent_idx`, and `EpisodeTree.episode_fields()` the episode's own columns, so the
loop converts a tree without renaming anything (search itself never imports the store).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from practicum.envs.core import FailureKind


@dataclass
class Node:
    """One node of an episode's tree: the state reached by taking `action` at the parent.

    The root (idx 0) is the state after `reset`. A child is created when the policy proposes its action at
    the parent; it is *expanded* once the action has been executed in the environment, which fills
    `observation`, `reward`, `is_terminal`, `success`, `invalid` and `error`. Proposed children that search
    never executed stay in the tree (unexpanded, zero visits) with their prior and critic score.
    """

    idx: int
    parent_idx: int | None  # None for the root; always smaller than `idx` (parents are created first)
    depth: int
    action: str | None = None  # None for the root
    prompt: str | None = None  # the exact prompt the policy saw at the parent when it proposed this action
    observation: str | None = None  # None until expanded
    prior_logprob: float | None = None  # the policy's total log-probability of `action` (None if not given)
    prior: float = 1.0  # softmax of the siblings' log-probabilities
    critic_score: float | None = None  # in [0, 1]; None when not critiqued (greedy play)
    critic_rationale: str | None = None  # the critic's rationale for this sibling group, when asked
    visits: int = 0
    value: float = 0.0  # Q_mcts: mean discounted return of the simulations through this node
    blended_value: float = 0.0  # Q^ = alpha·Q_mcts + (1 - alpha)·critic score (the critic's alone if unvisited)
    reward: float = 0.0  # reward the environment gave for the step into this node
    terminal_reward: float | None = None  # `reward` when the episode ended here, else None
    is_terminal: bool = False  # the episode ended here (terminated or truncated)
    success: bool = False  # the task was solved on reaching this node
    invalid: bool = False  # the environment rejected `action` as not a legal action
    error: str | None = None  # the environment's error message for `action`, shown in the next observation
    expanded: bool = False
    on_path: bool = False  # on the committed path: the actions the agent actually took
    children: list[int] = field(default_factory=list)  # indices of the proposed children, in proposal order

    def row(self) -> dict[str, Any]:
        """The node as a store row: every field but `children` (the store links nodes by `parent_idx`)."""
        data = asdict(self)
        del data["children"]
        return data


@dataclass(frozen=True)
class Pooled:
    """An action's statistics pooled over its outcome nodes (`pool`)."""

    visits: int
    value: float  # Q_mcts: the visit-weighted mean over the outcome nodes
    blended_value: float


def action_groups(nodes: Sequence[Node], parent: Node) -> list[list[Node]]:
    """`parent`'s children by action, in proposal order: where an action meets chance (an opponent's reply),
    search keeps one node per outcome it drew, all with that action; elsewhere each group is one node."""
    groups: dict[str, list[Node]] = {}
    for i in parent.children:
        groups.setdefault(nodes[i].action or "", []).append(nodes[i])
    return list(groups.values())


def pool(group: Sequence[Node]) -> Pooled:
    """The statistics of one action over its outcome nodes: visits summed, values weighted by visits (an
    unvisited action keeps its first node's values: the critic's score alone)."""
    visits = sum(n.visits for n in group)
    if visits == 0:
        return Pooled(0, group[0].value, group[0].blended_value)
    value = sum(n.visits * n.value for n in group) / visits
    return Pooled(visits, value, sum(n.visits * n.blended_value for n in group) / visits)


@dataclass
class EpisodeTree:
    """One episode: every explored node and the outcome of the committed path.

    `nodes[i].idx == i`. `reward` is the undiscounted sum of rewards along the committed path. `failure_kind`
    is None on success; `agent` for a wrong, invalid or given-up episode; `env` for an environment problem such
    as a replay divergence; `infra` when the environment or a model backend crashed (`error` has the text).
    """

    task: str  # the task key `suite:seed`
    goal: str
    mode: str  # "search", "greedy" or "sample"
    policy: str  # the policy's name
    prompt_version: str = ""  # the wording version of the policy's prompts (`agents.prompts.PROMPT_VERSION`)
    config: dict[str, Any] = field(default_factory=dict)  # `dataclasses.asdict(SearchConfig)`
    nodes: list[Node] = field(default_factory=list)
    success: bool = False
    reward: float = 0.0
    failure_kind: FailureKind | None = None
    error: str | None = None
    steps: int = 0  # committed steps
    invalid_actions: int = 0  # actions on the committed path the environment rejected
    invalid_outputs: int = 0  # model outputs that were no usable action (from the policy's proposals)
    critic_failures: int = 0  # critiques whose output could not be parsed (neutral scores were used)
    simulations: int = 0
    expansions: int = 0  # actions executed in the environment to create tree nodes
    rollout_steps: int = 0
    model_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    wall_seconds: float = 0.0
    model_seconds: float = 0.0  # time inside policy and critic calls
    env_seconds: float = 0.0  # time inside reset, step, snapshot, restore and replay

    @property
    def outcome(self) -> str:
        """ "success" or "failure"."""
        return "success" if self.success else "failure"

    def node_rows(self) -> list[dict[str, Any]]:
        """Every node as a store row (`Node.row()`), parents first."""
        return [n.row() for n in self.nodes]

    def episode_fields(self) -> dict[str, Any]:
        """The episode's columns under the store's names; search statistics go into `info`."""
        return {
            "mode": self.mode,
            "outcome": self.outcome,
            "reward": self.reward,
            "failure_kind": self.failure_kind.value if self.failure_kind else None,
            "error": self.error,
            "wall_seconds": self.wall_seconds,
            "model_seconds": self.model_seconds,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "steps": self.steps,
            "invalid_actions": self.invalid_actions,
            "info": {
                "policy": self.policy,
                "prompt_version": self.prompt_version,
                "search_config": self.config,
                "invalid_outputs": self.invalid_outputs,
                "critic_failures": self.critic_failures,
                "simulations": self.simulations,
                "expansions": self.expansions,
                "rollout_steps": self.rollout_steps,
                "model_calls": self.model_calls,
                "env_seconds": self.env_seconds,
            },
        }

    @property
    def root(self) -> Node:
        """The node of the initial observation (absent only when `reset` itself failed)."""
        return self.nodes[0]

    @property
    def path(self) -> list[Node]:
        """The committed path, root first."""
        return [n for n in self.nodes if n.on_path]

    @property
    def actions(self) -> list[str]:
        """The committed actions, in order."""
        return [n.action for n in self.path if n.action is not None]

    @property
    def final(self) -> Node:
        """The last committed node."""
        return self.path[-1]

    def children(self, node: Node) -> list[Node]:
        """The children of `node`, in the order the policy proposed them."""
        return [self.nodes[i] for i in node.children]
