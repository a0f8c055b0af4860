"""Training rows from search trees: pure functions over one episode's nodes, no database, no model.

- `step_pairs`: Agent Q's step-level preferences: under one node, a sibling action whose blended value Q^
  beats another's by more than a margin. The prompt is the exact text the policy saw at that node, and the
  behaviour log-probs logged with each action come along (they can serve as DPO's reference).
- `trajectory_pairs`: ETO's trajectory-level preferences: a success and an agent failure on the same task,
  reduced to the first step where the two diverge: the exact prompt the policy saw there, the success's
  action over the failure's, labelled by the two outcomes.
- `rft_examples`: rejection sampling: the committed steps of successful episodes; optionally the steps of
  failed episodes that search valued highly ("Exploring Expert Failures"); each marked where search overruled
  the policy's own first choice.

Only `agent` failures are negative evidence; episodes that ended in an `env` or `infra` failure say nothing
about the policy (and their values may come from a broken environment), so they yield no rows at all.
Every function is deterministic: the same nodes give the same rows in the same order.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal, Protocol

PairKind = Literal["step", "trajectory"]
ExampleKind = Literal["success", "failed_good", "format"]


class TreeNode(Protocol):
    """The node fields mining reads; both `store.models.NodeRow` rows and `store.records.NodeRecord` have them."""

    idx: int
    parent_idx: int | None
    action: str | None
    prompt: str | None
    observation: str | None
    prior_logprob: float | None
    blended_value: float | None
    value: float
    visits: int
    invalid: bool
    on_path: bool
    is_terminal: bool


@dataclass(frozen=True)
class EpisodeInfo:
    """What mining needs to know about an episode besides its nodes."""

    id: int
    task: str  # the task key, `suite:seed`
    policy_id: int | None
    success: bool
    failure_kind: str | None  # "agent", "env", "infra", or None on success
    reward: float = 0.0

    @property
    def agent_failure(self) -> bool:
        """Failed through the agent's own doing: the only kind of failure that is negative training signal."""
        return not self.success and self.failure_kind == "agent"

    @property
    def usable(self) -> bool:
        """A success or an agent failure; env and infra failures are left out of every dataset."""
        return self.success or self.agent_failure


@dataclass(frozen=True)
class Side:
    """One side of a preference pair: an action and where it was taken.

    `idx` is the action's node in episode `episode_id`; `logprob` the behaviour policy's log-prob of
    `action + EOS`, logged when it proposed the action (None where it is not that pair's reference).
    """

    action: str
    episode_id: int
    policy_id: int | None
    idx: int | None = None
    logprob: float | None = None


@dataclass(frozen=True)
class PreferencePair:
    """One DPO pair with where it came from.

    Both kinds are text: `prompt` is the exact prompt the policy saw at one node, `chosen` and `rejected` two
    actions taken there (each a `Side`). Step pairs: the two actions are children of node `node_idx` of one
    episode. Trajectory pairs: a success (the chosen side's episode) and an agent failure (the rejected side's)
    of `task` at the first step where their committed paths part, each side's `idx` that step's node in its
    episode (`node_idx` is None: the parent is a node of each tree); their log-probs are kept only when one
    policy collected both episodes. `margin` is the Q^ gap (step) or the reward gap (trajectory).
    """

    kind: PairKind
    task: str
    prompt: str
    chosen: Side
    rejected: Side
    margin: float
    node_idx: int | None = None

    @property
    def episode_ids(self) -> tuple[int, ...]:
        """The episodes this pair came from."""
        return tuple(dict.fromkeys((self.chosen.episode_id, self.rejected.episode_id)))

    def swapped(self) -> PreferencePair:
        """The same pair trained the other way round."""
        return replace(self, chosen=self.rejected, rejected=self.chosen)

    def record(self) -> dict[str, Any]:
        """The pair as one flat row: TRL's `prompt`/`chosen`/`rejected` text, then where each side came from."""
        sides = (("chosen", self.chosen), ("rejected", self.rejected))
        return {
            "prompt": self.prompt,
            "chosen": self.chosen.action,
            "rejected": self.rejected.action,
            "kind": self.kind,
            "task": self.task,
            "margin": self.margin,
            **{f"{name}_episode_id": side.episode_id for name, side in sides},
            **{f"{name}_policy_id": side.policy_id for name, side in sides},
            "node_idx": self.node_idx,
            **{f"{name}_idx": side.idx for name, side in sides},
            **{f"{name}_logprob": side.logprob for name, side in sides},
        }


@dataclass(frozen=True)
class RFTExample:
    """One prompt/completion example: the exact prompt of a step and the action taken there."""

    kind: ExampleKind
    task: str
    prompt: str
    completion: str
    episode_id: int
    node_idx: int
    policy_id: int | None
    value: float | None  # the step's blended value Q^ when search valued it
    overruled: bool = False  # search committed to another move than the one the policy ranked first

    @property
    def episode_ids(self) -> tuple[int, ...]:
        """The episode this example came from."""
        return (self.episode_id,)


@dataclass
class _Action:
    """One action at a node, pooled over its outcome nodes: where an action meets chance (an opponent's reply)
    search keeps a node per outcome it drew (`search.tree.action_groups`), and the action's value is their
    visit-weighted mean. Elsewhere an action is one node. `idx` is its first node's; `members` all of them."""

    idx: int
    parent_idx: int | None
    action: str | None
    prompt: str | None
    observation: str | None
    prior_logprob: float | None
    blended_value: float | None
    value: float
    visits: int
    invalid: bool
    on_path: bool
    is_terminal: bool  # every outcome ended the episode with the same return: the value is exact
    members: tuple[int, ...]


def _pooled(group: Sequence[TreeNode]) -> _Action:
    first, visits = group[0], sum(n.visits for n in group)
    value, blended = float(first.value), first.blended_value
    if visits and len(group) > 1:
        value = sum(n.visits * float(n.value) for n in group) / visits
        known = [(n.visits, float(n.blended_value)) for n in group if n.blended_value is not None]
        if sum(v for v, _ in known):
            blended = sum(v * b for v, b in known) / sum(v for v, _ in known)
    exact = all(n.is_terminal for n in group) and len({float(n.value) for n in group}) == 1
    return _Action(
        idx=first.idx,
        parent_idx=first.parent_idx,
        action=first.action,
        prompt=first.prompt,
        observation=first.observation,
        prior_logprob=first.prior_logprob,
        blended_value=blended,
        value=value,
        visits=visits,
        invalid=first.invalid,
        on_path=any(n.on_path for n in group),
        is_terminal=exact,
        members=tuple(n.idx for n in group),
    )


def _children(nodes: Iterable[TreeNode]) -> dict[int, list[_Action]]:
    """Each parent's actions, in the order they were proposed, each pooled over its outcome nodes."""
    groups: dict[int, dict[str | None, list[TreeNode]]] = defaultdict(dict)
    for node in sorted((n for n in nodes if n.parent_idx is not None), key=lambda n: n.idx):
        groups[node.parent_idx].setdefault(node.action, []).append(node)  # type: ignore[index]
    return {parent: [_pooled(g) for g in by_action.values()] for parent, by_action in groups.items()}


def _action_of(node: TreeNode, actions: Sequence[_Action]) -> _Action:
    """The pooled action `node` is an outcome of."""
    return next(a for a in actions if node.idx in a.members)


def _path(nodes: Sequence[TreeNode]) -> list[TreeNode]:
    """The committed path, root first (the nodes marked `on_path`, in index order)."""
    return sorted((n for n in nodes if n.on_path), key=lambda n: n.idx)


def step_pairs(
    episode: EpisodeInfo,
    nodes: Sequence[TreeNode],
    *,
    margin: float,
    max_per_node: int,
    min_visits: int = 1,
    by: str = "blended",
    confidence: float = 0.0,
) -> list[PreferencePair]:
    """Agent Q's step pairs: siblings whose Q^ (`by="blended"`) or search value Q_mcts (`by="search"`) differ
    by more than `margin`, largest gaps first.

    A candidate needs an action, a prompt, a Q^ and at least `min_visits` search visits (one, where the visit
    ended the episode: a terminal value is exact, and search seldom revisits a move that fell into a hole, so
    the surest pairs were the ones `min_visits` dropped). An unvisited sibling's Q^ is the critic's guess alone,
    and pairs between guesses teach the policy its own critic's bias (measured: with a 135M model as its own
    critic, such pairs pushed FrozenLake's policy to "right" at every cell, log-prob -7.5 -> -0.0, while search
    had found paths that go down). The chosen action must have been a legal one (an action the environment
    rejected can only be the rejected side). Siblings must share their prompt (they come from one proposal at
    one node); a pair whose two actions read the same is skipped.

    `confidence` z asks the gap to exceed `margin` plus z standard errors of the difference: a sibling's value
    is the mean of its `visits` returns in [0, 1], whose standard error is at most 0.5 / sqrt(visits), and a
    terminal sibling's value is exact (error 0). Measured on FrozenLake and tic-tac-toe trees by exact values
    (benchmarks/signal_bench.py), most reversed and tied pairs were gaps between two siblings valued from a few
    random rollouts each.
    """
    if not episode.usable:
        return []
    pairs: list[PreferencePair] = []
    for parent_idx, siblings in sorted(_children(nodes).items()):
        scored = [
            n
            for n in siblings
            if n.action is not None and n.prompt and n.blended_value is not None and _visited_enough(n, min_visits)
        ]
        candidates = []
        for good, bad in itertools.permutations(scored, 2):
            if by == "search":
                gap = float(good.value) - float(bad.value)
            else:
                gap = float(good.blended_value) - float(bad.blended_value)  # type: ignore[arg-type]
            if not _clear_gap(gap, good, bad, margin=margin, confidence=confidence):
                continue
            if good.invalid or good.prompt != bad.prompt:
                continue
            if (good.action or "").strip() == (bad.action or "").strip():
                continue
            candidates.append((gap, good, bad))
        candidates.sort(key=lambda c: (-c[0], c[1].idx, c[2].idx))
        for gap, good, bad in candidates[:max_per_node]:
            pairs.append(
                PreferencePair(
                    kind="step",
                    task=episode.task,
                    prompt=str(good.prompt),
                    chosen=Side(str(good.action), episode.id, episode.policy_id, good.idx, good.prior_logprob),
                    rejected=Side(str(bad.action), episode.id, episode.policy_id, bad.idx, bad.prior_logprob),
                    margin=gap,
                    node_idx=parent_idx,
                )
            )
    return pairs


def balance_by_action(pairs: Sequence[PreferencePair]) -> list[PreferencePair]:
    """The pairs, with each direction between two actions weighed alike: where some pairs prefer action a to b
    and others b to a, the fewer side's pairs are repeated (in turn) until both sides count the same.

    A small model fits what it can fit cheaply first: when 17 pairs prefer "right" to "down" and 4 prefer
    "down" to "right", raising "right" over "down" everywhere fits most of them without reading the
    observation, and that is what DPO did (docs/learning.md). Balanced, no bias between the two actions fits
    more than half; only what the prompts say can. Pairs whose reverse never occurs are kept once as they are.
    """
    by_direction: dict[tuple[str, str], list[PreferencePair]] = {}
    for pair in pairs:
        by_direction.setdefault((pair.chosen.action.strip(), pair.rejected.action.strip()), []).append(pair)
    out = list(pairs)
    for (chosen, rejected), group in by_direction.items():
        reverse = by_direction.get((rejected, chosen), [])
        if reverse and len(group) < len(reverse):
            out += [group[i % len(group)] for i in range(len(reverse) - len(group))]
    return out


def _visited_enough(node: TreeNode, min_visits: int) -> bool:
    """Whether search's value of `node` counts: `min_visits` visits, or one where the visit ended the episode
    (a terminal value is exact)."""
    return node.visits >= min_visits or (node.is_terminal and node.visits >= 1)


def _clear_gap(gap: float, a: TreeNode, b: TreeNode, *, margin: float, confidence: float) -> bool:
    """Whether `a`'s value beats `b`'s by `gap` beyond `margin` plus `confidence` standard errors of the two."""
    return gap > margin + confidence * math.hypot(_error(a), _error(b))


def _error(node: TreeNode) -> float:
    """The largest standard error of a node's value: 0 when terminal (exact), else 0.5 / sqrt(visits)."""
    return 0.0 if node.is_terminal else 0.5 / math.sqrt(max(node.visits, 1))


def divergence(winner: Sequence[TreeNode], loser: Sequence[TreeNode]) -> tuple[TreeNode, TreeNode] | None:
    """The two committed steps where two episodes' paths first part: the same prompt, different actions.

    Returns `(winner's step, loser's step)`, or None when the paths never part, or when the prompts differ
    before the actions do (the environment's chance or another prompt version led them to different states:
    no single prompt is shared), or when the winner's step is missing its prompt.
    """
    for good, bad in zip(_path(winner)[1:], _path(loser)[1:], strict=False):
        if good.action is None or bad.action is None or not good.prompt or good.prompt != bad.prompt:
            return None
        if good.action.strip() != bad.action.strip():
            return good, bad
    return None


def trajectory_pairs(
    episodes: Sequence[tuple[EpisodeInfo, Sequence[TreeNode]]], *, max_per_task: int
) -> list[PreferencePair]:
    """ETO pairs: each task's successes against its agent failures, biggest reward gap first.

    A pair is the first step where the success and the failure part (`divergence`): the exact prompt the
    policy saw there, the success's action chosen and the failure's rejected. Why not the whole conversation:
    TRL's DPO scores every token of the completion, so a conversation would train the model to produce the
    environment's observations too, and a prompt rebuilt from the first observation is not the text the policy
    read (its instruction, goal, history and legal actions); the stored prompt is. Why the first divergence:
    it is the last state both episodes share, so it is the one step where the two actions compete from the
    same prompt; the outcomes label it (noisily: a failure may also come from a later mistake, as in ETO).

    A pair whose chosen action the environment rejected is skipped, and so is a repeat of a pair already
    taken for the task (two successes that part from one failure the same way). Failures caused by the
    environment or infrastructure are not used.
    """
    by_task: dict[str, list[tuple[EpisodeInfo, Sequence[TreeNode]]]] = defaultdict(list)
    for info, nodes in episodes:
        if info.usable:
            by_task[info.task].append((info, nodes))
    pairs: list[PreferencePair] = []
    for task in sorted(by_task):
        wins = [(i, n) for i, n in by_task[task] if i.success]
        losses = [(i, n) for i, n in by_task[task] if i.agent_failure]
        combos = []
        for win, win_nodes in wins:
            for loss, loss_nodes in losses:
                parted = divergence(win_nodes, loss_nodes)
                if parted is not None and not parted[0].invalid:
                    combos.append((win, loss, *parted))
        # Ties keep the input's order (sort is stable), not the ids, which depend on who wrote first.
        combos.sort(key=lambda c: -(c[0].reward - c[1].reward))
        seen: set[tuple[str, str, str]] = set()
        for win, loss, good, bad in combos:
            key = (str(good.prompt), str(good.action), str(bad.action))
            if key in seen:
                continue
            seen.add(key)
            same_policy = win.policy_id is not None and win.policy_id == loss.policy_id
            pairs.append(
                PreferencePair(
                    kind="trajectory",
                    task=task,
                    prompt=str(good.prompt),
                    # Logged by one policy for one prompt, the log-probs are that policy's reference; from two
                    # policies they are not one reference, so TRL computes them.
                    chosen=Side(
                        str(good.action), win.id, win.policy_id, good.idx, good.prior_logprob if same_policy else None
                    ),
                    rejected=Side(
                        str(bad.action), loss.id, loss.policy_id, bad.idx, bad.prior_logprob if same_policy else None
                    ),
                    margin=win.reward - loss.reward,
                )
            )
            if len(seen) == max_per_task:
                break
    return pairs


def rft_examples(
    episode: EpisodeInfo, nodes: Sequence[TreeNode], *, include_failed: bool, good_value: float
) -> list[RFTExample]:
    """Rejection-sampling examples from one episode's committed path.

    A successful episode gives every committed step whose action the environment accepted. An agent failure
    gives, when `include_failed`, the committed steps whose Q^ is at least `good_value` and the highest among
    their siblings: actions search judged good even though the episode was lost. Other episodes give nothing.
    """
    if episode.success:
        kind: ExampleKind = "success"
    elif include_failed and episode.agent_failure:
        kind = "failed_good"
    else:
        return []
    kids = _children(nodes)
    examples = []
    for node in _path(nodes):
        if node.parent_idx is None or node.action is None or not node.prompt or node.invalid:
            continue
        if kind == "failed_good":
            value = _action_of(node, kids[node.parent_idx]).blended_value
            best = max((s.blended_value for s in kids[node.parent_idx] if s.blended_value is not None), default=None)
            if value is None or value < good_value or (best is not None and value < best):
                continue
        examples.append(
            RFTExample(
                kind=kind,
                task=episode.task,
                prompt=node.prompt,
                completion=node.action,
                episode_id=episode.id,
                node_idx=node.idx,
                policy_id=episode.policy_id,
                value=node.blended_value,
                overruled=_overruled(node, kids[node.parent_idx]),
            )
        )
    return examples


def tied_examples(
    examples: Sequence[RFTExample], nodes: Sequence[TreeNode], *, margin: float, confidence: float, min_visits: int
) -> list[RFTExample]:
    """For RFT examples of one episode, the other moves at the same nodes that search could not tell from the
    committed one: legal siblings visited `min_visits` times (once if terminal: exact) whose search value Q_mcts
    is not below the committed move's by more than `margin` plus `confidence` standard errors (the rule that
    ranks step pairs, with its own confidence). Each becomes one more example with the same prompt.

    Where two moves are equally good, the committed one is whichever the policy's prior favoured; training on it
    alone sharpens that prior at every tie. Every tied move as a target (as exact-optimal data has it) leaves
    ties alone and teaches only where search found a difference."""
    by_idx = {n.idx: n for n in nodes}
    kids = _children(nodes)
    extra = []
    for example in examples:
        node = by_idx[example.node_idx]
        if node.parent_idx is None:
            continue
        mine = _action_of(node, kids[node.parent_idx])
        for sib in kids[node.parent_idx]:
            if sib is mine or sib.invalid or sib.action is None or sib.prompt != node.prompt:
                continue
            if not _visited_enough(sib, min_visits):
                continue
            if (sib.action or "").strip() == (node.action or "").strip():
                continue
            if _clear_gap(float(mine.value) - float(sib.value), mine, sib, margin=margin, confidence=confidence):
                continue  # search ranked the committed move above it
            extra.append(
                dataclasses.replace(
                    example, completion=str(sib.action), node_idx=sib.idx, value=sib.blended_value, overruled=False
                )
            )
    return extra


def _overruled(node: TreeNode, siblings: Sequence[TreeNode]) -> bool:
    """Whether the policy ranked a legal sibling of the committed `node` strictly above it (by the log-probs
    logged when it proposed them): search then chose against the policy's own first choice."""
    if node.prior_logprob is None:
        return False
    return any(
        s.prior_logprob is not None and s.prior_logprob > node.prior_logprob and not s.invalid
        for s in siblings
        if s.idx != node.idx
    )
