"""Agent Q's online MCTS over one episode, and greedy play through the same API.

For every committed step, from the committed node:

1. propose: the policy proposes `k` candidate actions (with log-probabilities) at a node the first time
   search reaches it; they become the node's children, with priors = softmax of the siblings' log-probs;
2. critique: the critic scores the candidates in one call (Agent Q's self-critique);
3. select: descend by PUCT or UCT over Q^ = alpha·Q_mcts + (1 - alpha)·critic score;
4. expand: execute the selected child's action in the environment (restoring a snapshot of the parent, or
   replaying the action prefix), which fills its observation, reward and terminal flag; with
   `resample_chance` the environment's chance events for that step (an opponent's coin flip) are drawn from
   a seed of the search's own, so siblings meet independent draws and no simulation reads the episode's future;
5. evaluate the new leaf: the mean of `rollouts` rollouts (by the policy or at random), the environment's
   reward alone, or the critic's best score among the leaf's own candidates (rollouts reseed chance too);
6. back up the discounted return to every node on the path, up to the episode's root.

After `simulations` simulations (or `wall_clock_s`) the agent commits to the most visited child (or the one
with the best Q^), and search continues from there; the tree keeps every node it ever created. Search never
writes to the store and never trains: it returns an `EpisodeTree` and the loop does the rest.

Chance. A snapshot holds the environment's random generator, so without reseeding every expansion from one
node would see the same coming coin flips, up to `max_depth` levels ahead: search would learn which moves win
this very game (and RFT would reward luck) rather than which moves are good. With `resample_chance` every
expansion during search reseeds the environment's chance from a generator seeded by `SearchConfig.seed`
(reproducible; a separate stream from the policy's seeds, so a game without chance searches exactly as it
would without the option). An action that meets chance is taken again at every visit: each outcome drawn is a
node of its own beside the first (same action), and selection, commit and the values mined for training pool
an action's outcome nodes, so that an action is valued over its outcomes rather than by the first reply it met
(`search.tree.action_groups`, `pool`). The committed step does not keep the outcome search drew: that would let
search pick the luckiest of its draws. Its outcome is drawn again from a third stream search never sees, and where it
differs from every outcome search drew the committed node is a new twin (same action, the episode's outcome).
Greedy and sampled play never reseed: their steps meet the episode's own chance, as an evaluation must.
"""

from __future__ import annotations

import dataclasses
import math
import random
import time
from collections.abc import Callable
from typing import Any, TypeVar

from practicum.agents import templates
from practicum.agents.base import Candidate, Critic, Critique, Policy, Proposal, StepContext
from practicum.envs.core import FailureKind, Task, TextEnv
from practicum.errors import ConfigError, ModelError
from practicum.search.config import SearchConfig
from practicum.search.cursor import Divergence, EnvCrash, EnvCursor, Waypoint
from practicum.search.scoring import blend, select_child, softmax_priors
from practicum.search.tree import EpisodeTree, Node, action_groups, pool

T = TypeVar("T")
Clock = Callable[[], float]

NEUTRAL_SCORE = 0.5  # the critic's score when its output is unusable (as agents.base.Critique specifies)


class ModelCrash(Exception):
    """A model backend failed (endpoint unreachable, worker died): an `infra` failure of the episode."""


def search_episode(
    env: TextEnv,
    policy: Policy,
    critic: Critic | None = None,
    config: SearchConfig | None = None,
    *,
    task: Task | None = None,
    seed: int | None = None,
    clock: Clock = time.perf_counter,
) -> EpisodeTree:
    """Play one episode of `env` with `policy`, searching before every step, and return its tree.

    The episode starts with `env.reset(seed=seed, options={"task": task})` (the task wins when both are
    given). `config.mode == "greedy"` plays the policy's top action at every step without search or critic.
    `clock` measures the wall-clock budget and timings; tests inject a fake one.

    Invalid model output is recorded in the tree, never raised. An environment or model backend that crashes
    ends the episode with failure `infra` (`env` for a replay divergence) and the error text; the tree built
    so far is returned. Bad configuration raises `ConfigError`.
    """
    config = config or SearchConfig()
    if critic is None and config.consults_critic:
        raise ConfigError(
            f"SearchConfig(evaluation={config.evaluation!r}, alpha={config.alpha}) needs a critic, but none was "
            "given; pass a Critic, or set alpha=1.0 with evaluation='rollout' or 'reward' to search without one"
        )
    return _Episode(env, policy, critic, config, clock, task=task, seed=seed).play()


def play_greedy(
    env: TextEnv, policy: Policy, *, task: Task | None = None, seed: int | None = None, clock: Clock = time.perf_counter
) -> EpisodeTree:
    """Play one episode taking the policy's most likely action each step (no search); same result type."""
    return search_episode(env, policy, None, SearchConfig(mode="greedy"), task=task, seed=seed, clock=clock)


def backup(path: list[Node], value: float, *, discount: float, alpha: float) -> None:
    """Add one simulation's discounted return to every node of `path` (root first), from the leaf up.

    `value` is the estimated value of the leaf's state (0 for a terminal leaf); each node's return is its
    own reward plus the discounted return of the node below it. Q_mcts is the running mean of the returns.
    Q^ blends it with the critic's score, except at a terminal node, whose Q^ is its (exact) return.
    """
    g = value
    for node in reversed(path):
        g = node.reward + discount * g
        node.visits += 1
        node.value += (g - node.value) / node.visits
        # A terminal node's outcome is known, not estimated: the critic's guess must not lift a fall into a hole.
        node.blended_value = node.value if node.is_terminal else blend(node.value, node.critic_score, alpha)


class _Episode:
    """The state of one episode's search; `play()` runs it once."""

    def __init__(
        self,
        env: TextEnv,
        policy: Policy,
        critic: Critic | None,
        config: SearchConfig,
        clock: Clock,
        *,
        task: Task | None,
        seed: int | None,
    ) -> None:
        self.policy = policy
        self.critic = critic
        self.cfg = config
        self.clock = clock
        self.rng = random.Random(config.seed)
        # Expansions' chance seeds come from their own stream, so an environment without chance sees the same
        # policy seeds, rollouts and tree whether or not `resample_chance` is on.
        self.chance_rng = random.Random(f"chance:{config.seed}")
        self.chance_seeds: dict[int, int] = {}  # the seed each node's step drew its chance events from
        self.outcome_rng = random.Random(f"outcome:{config.seed}")  # the committed steps' chance (`_own_outcome`)
        self.cursor = EnvCursor(env, task=task, seed=seed, clock=clock)
        # Where the observation is the whole state, the prompt shows no action history (it invites repetition).
        self.show_history = not getattr(env, "observation_is_state", False)
        self.nodes: list[Node] = []
        self.legal: dict[int, tuple[str, ...] | None] = {}  # legal actions at each expanded node
        self.env_failure: dict[int, str | None] = {}  # the environment's failure kind at each expanded node
        self.proposed: set[int] = set()  # nodes whose candidates have been proposed
        self.tree = EpisodeTree(
            task=task.key if task is not None else f"{env.suite}:{0 if seed is None else seed}",
            goal=task.goal if task is not None else "",
            mode=config.mode,
            policy=policy.name,
            config=dataclasses.asdict(config),
            nodes=self.nodes,
        )

    # ================================================================= the episode
    def play(self) -> EpisodeTree:
        tree = self.tree
        start = self.clock()
        try:
            obs, info = self.cursor.reset()
            tree.task = str(info.get("task", tree.task))
            tree.goal = str(info.get("goal", tree.goal))
            root = Node(idx=0, parent_idx=None, depth=0, observation=obs, expanded=True, on_path=True)
            self.nodes.append(root)
            self._record_state(root, info)
            self.cursor.mark(0, keep=self.cfg.searches)
            self._play_from(root)
        except Divergence as exc:
            tree.failure_kind, tree.error = FailureKind.ENV, str(exc)
        except (EnvCrash, ModelCrash) as exc:
            tree.failure_kind, tree.error = FailureKind.INFRA, str(exc)
        path = tree.path
        tree.reward = sum(n.reward for n in path)
        tree.invalid_actions = sum(n.invalid for n in path)
        tree.wall_seconds = self.clock() - start
        tree.env_seconds = self.cursor.seconds
        return tree

    def _play_from(self, cur: Node) -> None:
        """Search (or take the top action), commit, repeat until the episode ends."""
        tree = self.tree
        while not cur.is_terminal:
            if self.cfg.searches:
                self._search(cur)
                group = self._choose(cur)
            elif self.cfg.mode == "sample":
                sampled = self._sample(cur)
                group = [sampled] if sampled is not None else None
            else:
                self._propose(cur, k=1, critique=False)
                group = self._choose(cur)
            if group is None:
                tree.failure_kind = FailureKind.AGENT
                tree.error = f"the policy proposed no usable action at step {tree.steps}"
                return
            if not group[0].expanded:
                self._expand(group[0])
            child = self._own_outcome(group)
            child.on_path = True
            tree.steps += 1
            cur = child
        tree.success = cur.success
        kind = self.env_failure.get(cur.idx)
        tree.failure_kind = None if cur.success else FailureKind(kind) if kind else FailureKind.AGENT

    # ================================================================= one committed step of search
    def _search(self, cur: Node) -> None:
        """Run the step's simulations from `cur` within the budget."""
        started = self.clock()
        self._propose(cur, k=self.cfg.k, critique=True)  # always, so that there is something to commit to
        if not cur.children:
            return
        for _ in range(self.cfg.simulations):
            if self.cfg.wall_clock_s is not None and self.clock() - started >= self.cfg.wall_clock_s:
                break
            self._simulate(cur)

    def _simulate(self, cur: Node) -> None:
        """One simulation: select down from `cur`, expand one new node, evaluate it, back up."""
        path = [cur]
        node = cur
        while True:
            if node.is_terminal:
                value = 0.0  # nothing follows a terminal node; its own reward is backed up below
                break
            if node.depth - cur.depth >= self.cfg.max_depth:
                value = self._evaluate(node)
                break
            self._propose(node, k=self.cfg.k, critique=True)
            if not node.children:
                value = 0.0  # a dead end: the policy had nothing to offer
                break
            group = self._select(node)
            node = group[0]
            if not node.expanded:
                path.append(node)
                self._expand(node)
                value = 0.0 if node.is_terminal else self._evaluate(node)
                break
            if node.idx in self.chance_seeds:  # the action meets chance: draw its outcome again
                node, new = self._draw_outcome(group, self.chance_rng.randrange(2**31))
                path.append(node)
                if new:
                    value = 0.0 if node.is_terminal else self._evaluate(node)
                    break
            else:
                path.append(node)
        backup([*self._ancestors(cur), *path], value, discount=self.cfg.discount, alpha=self.cfg.alpha)
        self.tree.simulations += 1

    def _select(self, node: Node) -> list[Node]:
        """The action to try next at `node` (its group of outcome nodes), by PUCT or UCT over the actions."""
        groups = action_groups(self.nodes, node)
        pooled = [pool(g) for g in groups]
        best = select_child(
            q_hats=[p.blended_value for p in pooled],
            priors=[g[0].prior for g in groups],
            visits=[p.visits for p in pooled],
            parent_visits=node.visits,
            rule=self.cfg.selection,
            c=self.cfg.exploration,
        )
        return groups[best]

    def _choose(self, cur: Node) -> list[Node] | None:
        """The action to commit to (its group of outcome nodes): most visits, or best Q^ among the visited."""
        groups = [(g, pool(g)) for g in action_groups(self.nodes, cur)]
        if not groups:
            return None
        if self.cfg.commit == "q":
            tried = [(g, p) for g, p in groups if p.visits > 0] or groups
            return max(tried, key=lambda gp: (gp[1].blended_value, gp[1].visits, gp[0][0].prior, -gp[0][0].idx))[0]
        return max(groups, key=lambda gp: (gp[1].visits, gp[1].blended_value, gp[0][0].prior, -gp[0][0].idx))[0]

    def _sample(self, cur: Node) -> Node | None:
        """One action drawn from the policy at the configured temperature.

        With a list of legal actions every one is scored and one is drawn from softmax(log-prob / temperature);
        free-text policies sample their single proposal at that temperature themselves.
        """
        legal = self.legal.get(cur.idx)
        self._propose(cur, k=len(legal) if legal else 1, critique=False)
        children = [self.nodes[i] for i in cur.children]
        if len(children) <= 1:
            return children[0] if children else None
        logprobs = [c.prior_logprob for c in children]
        if any(lp is None or not math.isfinite(lp) for lp in logprobs):
            return self.rng.choice(children)  # a backend without log-probs: uniform over its candidates
        top = max(lp for lp in logprobs if lp is not None)
        weights = [math.exp((lp - top) / self.cfg.temperature) for lp in logprobs if lp is not None]
        return self.rng.choices(children, weights=weights)[0]

    # ================================================================= propose + critique
    def _propose(self, node: Node, *, k: int, critique: bool) -> None:
        """Create `node`'s children from the policy's candidates, scored by the critic, once per node."""
        if node.idx in self.proposed:
            return
        self.proposed.add(node.idx)
        context = self._context(node)
        proposal = self._call_model(
            lambda: self.policy.propose(context, k, temperature=self.cfg.temperature, seed=self._seed())
        )
        self.tree.invalid_outputs += proposal.invalid_outputs
        self.tree.prompt_version = self.tree.prompt_version or proposal.prompt_version
        self._count_tokens(proposal)
        candidates = _distinct(proposal)[:k]
        if self.cfg.propose_playout and self.cfg.searches:
            candidates = self._with_playout(node, context, candidates)
        if not candidates:
            return
        actions = [c.text for c in candidates]
        scores: list[float | None] = [None] * len(actions)
        rationale: str | None = None
        if critique and self.critic is not None:
            critic = self.critic
            verdict = self._call_model(lambda: critic.critique(context, actions, rationale=self.cfg.rationale))
            self._count_tokens(verdict)
            scores, usable = _critic_scores(verdict, len(actions))
            self.tree.critic_failures += not usable
            rationale = verdict.rationale
        priors = softmax_priors([c.logprob for c in candidates])
        for cand, prior, score in zip(candidates, priors, scores, strict=True):
            child = Node(
                idx=len(self.nodes),
                parent_idx=node.idx,
                depth=node.depth + 1,
                action=cand.text,
                prompt=proposal.prompt,
                prior_logprob=cand.logprob,
                prior=prior,
                critic_score=score,
                critic_rationale=rationale,
                blended_value=blend(None, score, self.cfg.alpha),
            )
            self.nodes.append(child)
            node.children.append(child.idx)

    def _with_playout(self, node: Node, context: StepContext, candidates: list[Candidate]) -> list[Candidate]:
        """`candidates` with the environment's rule-of-thumb action at `node` first (`propose_playout`), scored by
        the policy, unless it is already among them or there is none."""
        self._goto(node)
        action = self.cursor.playout_action(self.rng)
        if action is None or action in {c.text for c in candidates}:
            return candidates
        scored = self._call_model(lambda: self.policy.score(context, [action]))
        self._count_tokens(scored)
        return [*scored.candidates[:1], *candidates]

    # ================================================================= expand + evaluate
    def _own_outcome(self, group: list[Node]) -> Node:
        """The committed step with the episode's own chance: the node of the chosen action whose outcome is the
        one the episode's chance stream gives, a twin (same action, that outcome) added beside them if none is.

        Search chose the action from outcomes it drew itself; committing one of them would let it pick the
        luckiest draw (measured on tic-tac-toe: search then won 95% of its train games, and only 65% of the won
        games' moves were optimal). The episode's outcome is drawn after the choice, from a stream search never
        sees.
        """
        child = group[0]
        if child.idx not in self.chance_seeds or child.parent_idx is None:
            return child  # no chance in this step (or greedy play, which never reseeds)
        return self._draw_outcome(group, self.outcome_rng.randrange(2**31))[0]

    def _draw_outcome(self, group: list[Node], seed: int) -> tuple[Node, bool]:
        """Take the action of `group` (outcome nodes of one action at one parent) again, its chance drawn from
        `seed`: the node that holds that outcome, and whether it is new (a twin added beside the others).

        An action that meets chance (the opponent's reply) leads to one of several states. Kept as the one
        state its first expansion drew, every visit below it would value that draw, not the action: siblings'
        values would compare two opponent replies (measured on tic-tac-toe: step pairs 94% right by the states
        the siblings held, 80% by the actions' exact values). Drawn again at every visit, the action's value,
        pooled over its outcome nodes (`pool`), estimates its expectation."""
        first = group[0]
        twin = Node(
            idx=len(self.nodes),
            parent_idx=first.parent_idx,
            depth=first.depth,
            action=first.action,
            prompt=first.prompt,
            prior_logprob=first.prior_logprob,
            prior=first.prior,
            critic_score=first.critic_score,
            critic_rationale=first.critic_rationale,
            blended_value=blend(None, first.critic_score, self.cfg.alpha),
        )
        self._expand(twin, chance_seed=seed)
        outcome = (twin.observation, twin.reward, twin.is_terminal)
        for node in group:
            if node.expanded and (node.observation, node.reward, node.is_terminal) == outcome:
                self.chance_seeds.pop(twin.idx, None)
                self.cursor.forget(twin.idx)
                self.tree.expansions -= 1
                return node, False  # an outcome drawn before: keep one node (the twin was never added)
        self.nodes.append(twin)
        self.nodes[twin.parent_idx].children.append(twin.idx)  # type: ignore[index]
        return twin, True

    def _expand(self, node: Node, *, chance_seed: int | None = None) -> None:
        """Execute `node`'s action from its parent's state and record what happened; `chance_seed` draws the
        step's chance events from that seed instead of search's own stream."""
        assert node.parent_idx is not None and node.action is not None  # only proposed children are expanded
        cursor = self.cursor
        self._goto(self.nodes[node.parent_idx])
        if self.cfg.searches and self.cfg.resample_chance:
            # Siblings must not all meet the coin flips the parent's snapshot holds (see the module docstring).
            seed = self.chance_rng.randrange(2**31) if chance_seed is None else chance_seed
            if cursor.reseed_chance(seed):
                self.chance_seeds[node.idx] = seed  # replay applies it again to reach this node
        result = cursor.step(node.action)
        node.observation = result.observation
        node.reward = result.reward
        node.is_terminal = result.done
        node.terminal_reward = result.reward if result.done else None
        node.success = bool(result.info.get("success", False))
        node.invalid = bool(result.info.get("invalid_action", False))
        node.error = result.info.get("last_action_error")
        node.expanded = True
        self._record_state(node, result.info)
        # Only search goes back to a node: greedy play never restores, so it saves no snapshots.
        cursor.mark(node.idx, keep=self.cfg.searches and not node.is_terminal)
        self.tree.expansions += 1

    def _evaluate(self, node: Node) -> float:
        """The estimated value of the (expanded, non-terminal) state at `node`, by the configured mode."""
        if self.cfg.evaluation == "reward":
            return 0.0  # the leaf's own reward is added in the backup
        if self.cfg.evaluation == "critic":
            self._propose(node, k=self.cfg.k, critique=True)
            scores = [self.nodes[i].critic_score for i in node.children]
            return max((s for s in scores if s is not None), default=0.0)
        if self.cfg.rollout_depth == 0:
            return 0.0
        return sum(self._rollout(node) for _ in range(self.cfg.rollouts)) / self.cfg.rollouts

    def _rollout(self, node: Node) -> float:
        """Play the policy from `node` for up to `rollout_depth` steps; the discounted sum of rewards."""
        cursor = self.cursor
        self._goto(node)
        if self.cfg.resample_chance:
            cursor.reseed_chance(self._seed())
        history = list(self._history(node))
        observation, legal = node.observation or "", self.legal.get(node.idx)
        total, weight = 0.0, 1.0
        for _ in range(self.cfg.rollout_depth):
            context = StepContext(self.tree.goal, observation, tuple(history), legal)
            action = self._rollout_action(context)
            if action is None:
                break
            result = cursor.step(action)
            self.tree.rollout_steps += 1
            total += weight * result.reward
            weight *= self.cfg.discount
            if result.done:
                break
            if self.show_history:
                history.append(action)
            observation, legal = result.observation, _legal(result.info)
        return total

    def _rollout_action(self, context: StepContext) -> str | None:
        """The environment's playout move ("heuristic" rollouts, where it has one); a uniformly random legal
        action ("random", or "heuristic" without one); else the policy's top action (temperature 0), or one
        sampled from its top k by softmax(logprob / T)."""
        if self.cfg.rollout_policy == "heuristic":
            action = self.cursor.playout_action(self.rng)
            if action is not None:
                return action
        if self.cfg.rollout_policy != "policy" and context.legal_actions:
            choices = templates.concrete(context.legal_actions)  # a template needs the model to fill its slot
            if choices:
                return self.rng.choice(choices)
        greedy = self.cfg.temperature == 0
        k = 1 if greedy else self.cfg.k
        proposal = self._call_model(
            lambda: self.policy.propose(context, k, temperature=self.cfg.temperature, seed=self._seed())
        )
        self.tree.invalid_outputs += proposal.invalid_outputs
        self._count_tokens(proposal)
        candidates = _distinct(proposal)
        if not candidates:
            return None
        if greedy or len(candidates) == 1:
            return candidates[0].text
        scaled = [None if c.logprob is None else c.logprob / self.cfg.temperature for c in candidates]
        weights = softmax_priors(scaled)
        return self.rng.choices([c.text for c in candidates], weights=weights)[0]

    # ================================================================= helpers
    def _goto(self, node: Node) -> None:
        route = [
            Waypoint(n.idx, n.action or "", n.observation or "", self.chance_seeds.get(n.idx))
            for n in self._route(node)
        ]
        self.cursor.goto(self.nodes[0].observation or "", route)

    def _ancestors(self, node: Node) -> list[Node]:
        """The nodes above `node`, root first."""
        chain: list[Node] = []
        parent = node.parent_idx
        while parent is not None:
            chain.append(self.nodes[parent])
            parent = self.nodes[parent].parent_idx
        return chain[::-1]

    def _route(self, node: Node) -> list[Node]:
        """The nodes from the root's child down to `node` (empty for the root)."""
        return [*self._ancestors(node), node][1:]

    def _history(self, node: Node) -> tuple[str, ...]:
        """The actions taken from the root to `node`, as the prompt shows them (none where the observation is
        the whole state)."""
        if not self.show_history:
            return ()
        return tuple(n.action for n in self._route(node) if n.action is not None)

    def _context(self, node: Node) -> StepContext:
        return StepContext(
            goal=self.tree.goal,
            observation=node.observation or "",
            history=self._history(node),
            legal_actions=self.legal.get(node.idx),
        )

    def _record_state(self, node: Node, info: dict[str, Any]) -> None:
        self.legal[node.idx] = _legal(info)
        failure = info.get("failure")
        self.env_failure[node.idx] = FailureKind(failure).value if failure else None

    def _seed(self) -> int:
        return self.rng.randrange(2**31)

    def _call_model(self, fn: Callable[[], T]) -> T:
        """Call a model backend, timing it; a backend that cannot be reached is an infra failure."""
        tree = self.tree
        start = self.clock()
        try:
            return fn()
        except (ModelError, OSError) as exc:
            raise ModelCrash(f"{type(exc).__name__}: {exc}") from exc
        finally:
            tree.model_seconds += self.clock() - start
            tree.model_calls += 1

    def _count_tokens(self, out: Proposal | Critique) -> None:
        self.tree.prompt_tokens += out.prompt_tokens
        self.tree.completion_tokens += out.completion_tokens


def _legal(info: dict[str, Any]) -> tuple[str, ...] | None:
    """The closed action set of a state, or None for free text (no list, or an empty one)."""
    actions = info.get("legal_actions")
    return tuple(str(a) for a in actions) if actions else None


def _distinct(proposal: Proposal) -> list[Candidate]:
    """The proposal's candidates without repeated texts (the first occurrence wins) or empty ones."""
    seen: set[str] = set()
    out: list[Candidate] = []
    for cand in proposal.candidates:
        if cand.text.strip() and cand.text not in seen:
            seen.add(cand.text)
            out.append(cand)
    return out


def _critic_scores(verdict: Critique, n: int) -> tuple[list[float | None], bool]:
    """The critic's scores clipped to [0, 1], or neutral scores when the verdict is unusable."""
    if not verdict.parsed or len(verdict.scores) != n or not all(math.isfinite(s) for s in verdict.scores):
        return [NEUTRAL_SCORE] * n, False
    return [min(1.0, max(0.0, float(s))) for s in verdict.scores], True
