"""MCTS over a tiny game whose winning line is known, with scripted (table) policies and critics."""

from __future__ import annotations

import dataclasses
import random
from typing import Any

import pytest

from practicum.agents.base import Critic, Policy
from practicum.envs.core import FailureKind, Outcome, TextEnv
from practicum.errors import ConfigError
from practicum.search import EpisodeTree, Node, SearchConfig, play_greedy, search_episode
from practicum.search.mcts import backup
from tests.search.toys import (
    SECRET,
    ChoiceGame,
    CoinGame,
    DiceGame,
    FakeClock,
    OracleCritic,
    TableCritic,
    TablePolicy,
    rolls,
)

# Greedy play with this policy picks "a" every time and never finds the secret "b a c".
MISLEADING = {"a": -0.1, "b": -2.5, "c": -3.0}


def search(
    env: TextEnv | None = None, policy: Policy | None = None, critic: Critic | None = None, **overrides: Any
) -> EpisodeTree:
    settings: dict[str, Any] = {"simulations": 40, "max_depth": 3, "k": 3, "evaluation": "reward", **overrides}
    return search_episode(
        env or ChoiceGame(),
        policy or TablePolicy(MISLEADING),
        TableCritic() if critic is None else critic,
        SearchConfig(**settings),
        seed=0,
        clock=FakeClock(),
    )


def test_search_finds_the_winning_line_that_greedy_play_misses() -> None:
    greedy = play_greedy(ChoiceGame(), TablePolicy(MISLEADING), seed=0)
    assert greedy.actions == ["a", "a", "a"]
    assert (greedy.success, greedy.reward, greedy.failure_kind) == (False, 0.0, FailureKind.AGENT)

    tree = search()
    assert tree.actions == list(SECRET)
    assert (tree.success, tree.reward, tree.failure_kind, tree.steps) == (True, 1.0, None, 3)
    assert tree.final.is_terminal and tree.final.success


@pytest.mark.parametrize("evaluation", ["rollout", "reward", "critic"])
@pytest.mark.parametrize("selection", ["puct", "uct"])
def test_every_selection_rule_and_evaluation_mode_finds_the_winning_line(selection: str, evaluation: str) -> None:
    # 40 simulations cover the 3 + 9 + 27 nodes of the game when nothing but the final reward guides search.
    tree = search(policy=TablePolicy({}), selection=selection, evaluation=evaluation)
    assert tree.success, (selection, evaluation, tree.actions)
    assert search(policy=TablePolicy({}), selection=selection, evaluation=evaluation, simulations=10).success is False


def test_puct_follows_a_confident_prior_where_uct_explores() -> None:
    # PUCT spends visits in proportion to the prior: a confidently wrong policy keeps it on "a a a" with the
    # budget that lets UCT (Agent Q's rule, which tries every candidate once) find the secret.
    assert search(selection="uct").success
    assert not search(selection="puct").success
    right = TablePolicy({"b": -0.1, "a": -2.5, "c": -3.0})
    assert search(policy=right, selection="puct", simulations=2).actions[0] == "b"


def test_rollouts_value_leaves_by_playing_the_policy_on() -> None:
    # The policy is wrong about the first move only: greedy play loses ("a a c"), but its rollout from "b"
    # plays "a c" and wins, so three simulations per step (one per root candidate) are enough. With "reward"
    # evaluation the same budget sees no reward and follows the prior.
    def policy() -> TablePolicy:
        return TablePolicy({}, by_step=[{"a": -0.1, "b": -2.0}, {"a": -0.1}, {"c": -0.1}])

    assert play_greedy(ChoiceGame(), policy()).actions == ["a", "a", "c"]
    tree = search(policy=policy(), evaluation="rollout", simulations=3, rollout_depth=5)
    assert tree.actions == list(SECRET) and tree.success
    assert tree.rollout_steps > 0
    blind = search(policy=policy(), evaluation="reward", simulations=3)
    assert not blind.success and blind.rollout_steps == 0


def test_random_rollouts_see_a_reward_that_the_policys_own_rollouts_never_reach() -> None:
    # The policy always prefers "a", so its rollouts never play the secret's "b ... c"; uniformly random
    # rollouts over the legal moves stumble on the reward and steer search to it, without a model call.
    def run(rollout_policy: str, seed: int) -> tuple[EpisodeTree, TablePolicy]:
        policy = TablePolicy({"a": -0.1, "b": -2.5, "c": -3.0})
        settings = {"evaluation": "rollout", "rollout_depth": 5, "simulations": 6, "seed": seed}
        return search(policy=policy, rollout_policy=rollout_policy, **settings), policy

    wins = {"policy": 0, "random": 0}
    for seed in range(8):
        for kind in wins:
            tree, policy = run(kind, seed)
            wins[kind] += tree.success
            proposed = sum(1 for n in tree.nodes if n.children)
            if kind == "random":  # one model call per node proposed, none per rollout step
                assert len(policy.contexts) == proposed and tree.rollout_steps > 0
            else:
                assert len(policy.contexts) == proposed + tree.rollout_steps
    assert wins["policy"] == 0
    assert wins["random"] >= 3, wins  # 4 of the 8 seeds today


def test_several_random_rollouts_per_leaf_average_into_its_value() -> None:
    # One simulation per root candidate, so each root child's value is its one leaf evaluation. From "b" a
    # random rollout wins only by playing "a c" (1 in 9); from "a" or "c" it never wins. One rollout makes the
    # value of "b" 0 or 1; 90 of them make it a share near 1/9, each rollout playing the game's 2 last moves.
    def root_values(rollouts: int) -> tuple[dict[str, float], EpisodeTree]:
        tree = search(
            policy=TablePolicy({}),
            evaluation="rollout",
            rollout_policy="random",
            rollout_depth=5,
            rollouts=rollouts,
            simulations=3,
            alpha=1.0,
        )
        root = tree.nodes[0]
        return {tree.nodes[i].action or "": tree.nodes[i].value for i in root.children}, tree

    one, tree_one = root_values(1)
    many, tree_many = root_values(90)
    assert one["b"] in (0.0, 1.0)
    assert 0.0 < many["b"] < 0.3 and many["a"] == many["c"] == 0.0
    first_step = 3  # the first committed step's three simulations, before any other step searches
    assert tree_many.rollout_steps >= 90 * 2 * first_step > tree_one.rollout_steps


@pytest.mark.parametrize("heads", [True, False])
def test_rollouts_draw_chance_afresh_instead_of_reading_the_episodes_future(heads: bool) -> None:
    # "pass" scores a sure 0.9; "bet" wins 1 on heads, and this episode's generator will show `heads`.
    # Rollouts that replay the generator value "bet" at exactly 1 (or 0): search learns how lucky this game
    # is, and bets on a coin it has seen. Rollouts that draw the coin afresh value "bet" near its expectation,
    # 0.5, and take the sure 0.9.
    def play(resample: bool) -> tuple[float, EpisodeTree]:
        tree = search(
            CoinGame(heads=heads),
            TablePolicy({}),
            evaluation="rollout",
            rollout_policy="random",
            rollouts=60,
            simulations=2,
            k=2,
            alpha=1.0,
            resample_chance=resample,
        )
        bet = next(n for n in tree.nodes if n.parent_idx == 0 and n.action == "bet")
        return bet.value, tree

    seen, clairvoyant = play(False)
    fresh, fair = play(True)
    assert seen == (1.0 if heads else 0.0)
    assert clairvoyant.actions[0] == ("bet" if heads else "pass") and clairvoyant.success is heads
    assert 0.25 < fresh < 0.75
    assert fair.actions == ["pass", "flip"] and fair.reward == 0.9


def dice_search(**overrides: Any) -> EpisodeTree:
    return search(DiceGame(), TablePolicy({}), **{"simulations": 12, "k": 3, "alpha": 1.0, **overrides})


def first_rolls(tree: EpisodeTree) -> list[int]:
    """The die roll each child of the root met when search expanded it."""
    proposed = tree.nodes[0].children[:3]  # k = 3 proposals (a committed twin, if any, comes after them)
    return [rolls(tree.nodes[i].observation)[0] for i in proposed if tree.nodes[i].expanded]


def test_siblings_expanded_from_one_node_each_meet_their_own_chance() -> None:
    # The root's snapshot holds the dice's generator: restored for every sibling, it would show each of them
    # the same coming roll, and search would rank moves by this game's luck. Expansions reseed chance instead.
    fair = dice_search()
    assert len(first_rolls(fair)) == 3 and len(set(first_rolls(fair))) == 3
    deeper = [rolls(n.observation) for n in fair.nodes if n.depth == 2 and n.expanded]
    assert len({r[1] for r in deeper}) == len(deeper) > 1  # at every level, not only below the root
    # Reproducible for one SearchConfig.seed; another seed draws other chance.
    assert [dataclasses.asdict(n) for n in dice_search().nodes] == [dataclasses.asdict(n) for n in fair.nodes]
    assert first_rolls(dice_search(seed=1)) != first_rolls(fair)
    # Without resample_chance every sibling meets the episode's own roll, as before.
    assert len(set(first_rolls(dice_search(resample_chance=False)))) == 1


def test_search_cannot_commit_to_the_luckiest_of_its_own_draws() -> None:
    # The dice game's reward is its last roll. Had the committed step kept the roll search met when it
    # expanded the chosen child, search would pick the best of its draws (about 0.75 on average for three);
    # the episode's own roll is drawn after the choice, from a stream search never sees.
    rewards = []
    for seed in range(40):
        tree = search_episode(
            DiceGame(), TablePolicy({}), None, SearchConfig(simulations=12, k=3, alpha=1.0, seed=seed), seed=seed
        )
        rewards.append(tree.reward)
    assert sum(rewards) / len(rewards) < 0.6


def test_greedy_and_sampled_play_meet_the_episodes_own_chance() -> None:
    dice = random.Random(0)  # the dice game seeds its generator with the task seed
    own = [dice.randrange(1000) for _ in range(2)]
    greedy = play_greedy(DiceGame(), TablePolicy({}), seed=0)
    sampled = search_episode(DiceGame(), TablePolicy({}), None, SearchConfig(mode="sample", temperature=1.0), seed=0)
    for tree in (greedy, sampled):
        assert rolls(tree.path[-1].observation) == own


def test_critic_scores_steer_selection_when_search_values_get_no_weight() -> None:
    # With alpha = 0, Q^ is the critic's score alone: a critic that knows the secret wins with one
    # simulation per step, a critic that misleads loses, whatever the search values say.
    wise = search(critic=OracleCritic(), alpha=0.0, simulations=1, commit="q")
    assert wise.actions == list(SECRET) and wise.success
    misled = search(critic=OracleCritic(good=0.1, bad=0.9), alpha=0.0, simulations=1, commit="q")
    assert not misled.success
    # With alpha = 1 the same misleading critic is ignored: the search values find the secret.
    assert search(critic=OracleCritic(good=0.1, bad=0.9), alpha=1.0).success


def test_q_hat_blends_search_value_and_critic_score() -> None:
    tree = search(critic=TableCritic({"a": 0.2, "b": 0.8, "c": 0.4}), alpha=0.25)
    for node in tree.nodes[1:]:
        assert node.critic_score is not None
        if node.visits and node.is_terminal:  # a known outcome: no critic guess blended in
            assert node.blended_value == node.value
        elif node.visits:
            assert node.blended_value == pytest.approx(0.25 * node.value + 0.75 * node.critic_score)
        else:
            assert node.blended_value == pytest.approx(node.critic_score)


def test_backup_adds_the_discounted_return_to_every_node_on_the_path() -> None:
    root = Node(idx=0, parent_idx=None, depth=0)
    mid = Node(idx=1, parent_idx=0, depth=1, reward=0.5, critic_score=0.4)
    leaf = Node(idx=2, parent_idx=1, depth=2, reward=1.0)
    backup([root, mid, leaf], 0.2, discount=0.5, alpha=0.5)
    # leaf: 1 + 0.5·0.2 = 1.1; mid: 0.5 + 0.5·1.1 = 1.05; root: 0 + 0.5·1.05 = 0.525
    assert [n.visits for n in (root, mid, leaf)] == [1, 1, 1]
    assert [n.value for n in (root, mid, leaf)] == pytest.approx([0.525, 1.05, 1.1])
    assert mid.blended_value == pytest.approx(0.5 * 1.05 + 0.5 * 0.4)
    assert leaf.blended_value == pytest.approx(1.1)  # no critic score: Q^ is the search value
    backup([root, mid], 0.0, discount=0.5, alpha=0.5)
    # mid's second return is 0.5 + 0.5·0 = 0.5: mean (1.05 + 0.5) / 2
    assert (mid.visits, mid.value) == (2, pytest.approx(0.775))
    assert (root.visits, root.value) == (2, pytest.approx((0.525 + 0.25) / 2))


def test_visit_counts_add_up_over_the_tree() -> None:
    tree = search()
    # Every simulation passes through the root once.
    assert tree.root.visits == tree.simulations == 40 * tree.steps
    for node in tree.nodes:
        children_visits = sum(tree.nodes[i].visits for i in node.children)
        assert node.visits >= children_visits
        assert all(tree.nodes[i].parent_idx == node.idx for i in node.children)
        if node.visits == 0:
            assert node.value == 0.0
    winning = [n for n in tree.nodes if n.success]
    assert winning and all(n.value == pytest.approx(1.0) for n in winning if n.visits)


def test_discount_shrinks_the_value_of_distant_rewards() -> None:
    tree = search(discount=0.5)
    first = tree.path[1]
    # The win is two steps after the first move; its value is at most 0.5² = 0.25.
    assert 0 < first.value <= 0.25 + 1e-9
    assert tree.success


def test_commit_rule_most_visits_or_best_q_hat() -> None:
    by_visits = search(commit="visits")
    for node in by_visits.path[:-1]:
        chosen = next(by_visits.nodes[i] for i in node.children if by_visits.nodes[i].on_path)
        assert chosen.visits == max(by_visits.nodes[i].visits for i in node.children)
    by_q = search(commit="q")
    for node in by_q.path[:-1]:
        visited = [by_q.nodes[i] for i in node.children if by_q.nodes[i].visits]
        chosen = next(by_q.nodes[i] for i in node.children if by_q.nodes[i].on_path)
        assert chosen.blended_value == max(c.blended_value for c in visited)


def test_simulation_budget_is_spent_at_every_committed_step() -> None:
    for sims in (1, 4, 9):
        tree = search(simulations=sims)
        assert tree.simulations == sims * tree.steps


def test_max_depth_stops_simulations_below_the_committed_node() -> None:
    # With max_depth = 1 a simulation never goes below a child of the committed node, so only committed
    # nodes ever get children proposed for them.
    shallow = search(max_depth=1)
    assert all(n.on_path for n in shallow.nodes if n.children)
    deep = search(max_depth=3)
    assert any(not n.on_path for n in deep.nodes if n.children)
    assert max(n.depth for n in deep.nodes if n.expanded) == 3


def test_wall_clock_cap_ends_the_step_early_and_the_agent_still_commits() -> None:
    def run(cap: float | None) -> EpisodeTree:
        clock = FakeClock(tick=0.1)  # every reading of the clock takes 0.1 s: deterministic, never flaky
        config = SearchConfig(simulations=1000, wall_clock_s=cap, evaluation="reward")
        return search_episode(ChoiceGame(), TablePolicy(MISLEADING), TableCritic(), config, seed=0, clock=clock)

    short, longer, uncapped = run(2.0), run(20.0), run(None)
    assert uncapped.simulations == 3000
    assert 0 < short.simulations < longer.simulations < 3000
    for tree in (short, longer):
        assert tree.steps == 3 and tree.final.is_terminal
        assert tree.wall_seconds > 0 and tree.model_seconds > 0


def test_exhausted_wall_clock_commits_on_the_critic_and_prior_alone() -> None:
    clock = FakeClock()
    # Proposing takes longer than the whole budget: no simulation runs, the commit follows Q^ = critic score.
    policy = TablePolicy(MISLEADING, clock=clock, seconds_per_call=10.0)
    critic = TableCritic({"b": 0.9, "a": 0.8, "c": 0.95})
    tree = search_episode(
        ChoiceGame(), policy, critic, SearchConfig(wall_clock_s=1.0, evaluation="reward"), seed=0, clock=clock
    )
    assert tree.simulations == 0
    assert tree.actions == ["c", "c", "c"]


def test_same_seed_gives_the_same_tree_and_the_seed_matters() -> None:
    def run(seed: int) -> list[dict[str, object]]:
        config = SearchConfig(simulations=6, evaluation="rollout", temperature=1.0, seed=seed, k=2)
        tree = search_episode(
            ChoiceGame(), TablePolicy(MISLEADING, noise=2.0), TableCritic(), config, clock=FakeClock()
        )
        return [dataclasses.asdict(n) for n in tree.nodes]

    assert run(1) == run(1)
    assert run(1) != run(2)


def test_nodes_are_plain_rows_keyed_by_index_with_the_prompt_the_policy_saw() -> None:
    tree = search(critic=TableCritic({"b": 0.7}), rationale=True)
    rows = tree.node_rows()
    assert [r["idx"] for r in rows] == list(range(len(rows)))
    assert all("children" not in r for r in rows)
    for node in tree.nodes[1:]:
        parent = tree.nodes[node.parent_idx]  # type: ignore[index]
        assert node.depth == parent.depth + 1
        assert node.prompt == f"PROMPT[{parent.observation}]"
        assert node.critic_rationale == "by the table"
        if node.expanded:
            assert node.observation is not None and "Picked so far" in node.observation
        else:
            assert node.observation is None and node.visits == 0
    committed = tree.path
    assert [n.depth for n in committed] == list(range(len(committed)))
    assert all(committed[i + 1].parent_idx == committed[i].idx for i in range(len(committed) - 1))
    priors = [tree.nodes[i].prior for i in tree.root.children]
    assert sum(priors) == pytest.approx(1.0) and priors == sorted(priors, reverse=True)
    assert tree.model_calls > 0 and tree.prompt_tokens > 0 and tree.completion_tokens > 0
    assert tree.expansions == sum(n.expanded for n in tree.nodes) - 1  # the root is reset, not expanded
    terminal = [n for n in tree.nodes if n.is_terminal]
    assert terminal and all(n.terminal_reward == n.reward for n in terminal)
    assert all(n.terminal_reward is None for n in tree.nodes if not n.is_terminal)


def test_tree_converts_to_store_records_without_renaming() -> None:
    # Search never imports the store; this checks that the names still line up with what the store takes.
    from practicum.store.records import EpisodeRecord, NodeRecord, TaskRecord

    for tree in (search(), play_greedy(ChoiceGame(), TablePolicy(MISLEADING))):
        record = EpisodeRecord(
            run_id=1,
            task=TaskRecord(suite="choice", seed=0, split="train", goal=tree.goal),
            nodes=[NodeRecord.from_dict(row) for row in tree.node_rows()],
            **tree.episode_fields(),
        )
        record.validate()
        assert record.outcome == tree.outcome and len(record.nodes) == len(tree.nodes)
        assert record.info["simulations"] == tree.simulations


def test_greedy_mode_takes_the_policy_top_action_without_critic_or_search() -> None:
    critic = TableCritic({"b": 1.0})
    tree = search_episode(ChoiceGame(), TablePolicy({"b": -0.1, "a": -1.0}), critic, SearchConfig(mode="greedy"))
    assert tree.mode == "greedy" and critic.calls == 0
    assert tree.actions == ["b", "b", "b"] and tree.simulations == 0
    assert all(len(n.children) <= 1 for n in tree.nodes)
    assert all(n.critic_score is None for n in tree.nodes)


def test_search_without_a_critic_needs_alpha_one() -> None:
    with pytest.raises(ConfigError, match=r"needs a critic.*set alpha=1.0"):
        search_episode(ChoiceGame(), TablePolicy(MISLEADING), None, SearchConfig(alpha=0.5))
    tree = search_episode(
        ChoiceGame(), TablePolicy(MISLEADING), None, SearchConfig(alpha=1.0, simulations=40, evaluation="reward")
    )
    assert tree.success and all(n.critic_score is None for n in tree.nodes)


_GAME = ChoiceGame()  # built once: its gymnasium text spaces take ~60 ms to construct


def _sampled(policy: Policy, seed: int, temperature: float = 1.0) -> EpisodeTree:
    config = SearchConfig(mode="sample", temperature=temperature, seed=seed)
    return search_episode(_GAME, policy, None, config, seed=0, clock=FakeClock())


@pytest.mark.parametrize("temperature", [1.0, 3.0])
def test_sample_mode_draws_actions_in_proportion_to_the_policy_at_its_temperature(temperature: float) -> None:
    firsts = [_sampled(TablePolicy(MISLEADING), seed, temperature).actions[0] for seed in range(600)]
    weights = {a: pow(2.718281828, lp / temperature) for a, lp in MISLEADING.items()}
    expected = weights["a"] / sum(weights.values())  # 0.87 at temperature 1, 0.52 at 3
    assert abs(firsts.count("a") / len(firsts) - expected) < 0.06
    assert set(firsts) == {"a", "b", "c"}


def test_sample_mode_is_reproducible_by_seed_and_reaches_what_greedy_never_does() -> None:
    runs = [_sampled(TablePolicy(MISLEADING), seed) for seed in range(300)]
    assert [t.actions for t in runs[:20]] == [_sampled(TablePolicy(MISLEADING), s).actions for s in range(20)]
    assert any(t.success for t in runs)  # "b a c" has probability ~0.3%: pass@300 finds it
    assert not play_greedy(ChoiceGame(), TablePolicy(MISLEADING), seed=0).success
    tree = runs[0]
    assert tree.mode == "sample" and tree.simulations == 0
    assert all(len(n.children) == 3 for n in tree.path[:-1])  # every legal action was scored, one taken


def test_sample_mode_without_a_temperature_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"mode='sample'\) needs a positive temperature.*temperature=1.0"):
        SearchConfig(mode="sample")


@pytest.mark.parametrize("observation_is_state", [False, True])
def test_prompts_show_the_action_history_only_where_the_observation_is_not_the_whole_state(
    observation_is_state: bool,
) -> None:
    env = ChoiceGame()
    env.observation_is_state = observation_is_state
    policy = TablePolicy(MISLEADING)
    tree = search(env, policy, evaluation="rollout", rollout_depth=2, simulations=6)
    assert tree.steps == 3  # the episode went on past its first step
    histories = [c.history for c in policy.contexts]
    if observation_is_state:
        assert all(h == () for h in histories)
    else:
        assert any(len(h) >= 2 for h in histories)  # deeper nodes and rollouts see the moves that led there


class GambleGame(CoinGame):
    """One move: "safe" scores 0.8; "gamble" scores 1 on heads, 0 on tails, from the episode's chance."""

    def _legal_actions(self) -> list[str]:
        return ["gamble", "safe"] if not self.picks else []

    def _apply(self, action: Any) -> Outcome:
        self.picks.append(action)
        reward = 0.8 if action == "safe" else float(self._coin.random() < 0.5)
        return Outcome(reward=reward, terminated=True, success=reward == 1.0)


def test_an_action_that_meets_chance_is_valued_over_its_outcomes_not_its_first_draw() -> None:
    # Kept as the one outcome its first expansion drew, "gamble" would be worth 1 or 0 to search for good, and
    # search would take it whenever that draw was a win. Drawn again at every visit, its outcomes are nodes of
    # their own (one per outcome) whose pooled value is near 0.5, and search takes the sure 0.8 for every seed.
    from practicum.search.tree import action_groups, pool

    values, both = [], 0
    for seed in range(12):
        tree = search_episode(
            GambleGame(heads=seed % 2 == 0),
            TablePolicy({"gamble": -0.1, "safe": -0.2}),
            None,
            SearchConfig(simulations=40, k=2, alpha=1.0, evaluation="reward", seed=seed),
            seed=seed,
        )
        assert tree.actions == ["safe"], seed
        gamble = next(g for g in action_groups(tree.nodes, tree.nodes[0]) if g[0].action == "gamble")
        rewards = [n.reward for n in gamble]
        assert len(rewards) == len(set(rewards)) <= 2  # one node per outcome
        both += len(rewards) == 2
        values.append(pool(gamble).value)
    assert both >= 9 and 0.3 < sum(values) / len(values) < 0.7


class TaughtGame(ChoiceGame):
    """The choice game with a rule of thumb that knows the secret: its playout move is the next secret pick."""

    def playout_action(self, rng: random.Random) -> str | None:
        if self._progress is None or self._progress.done or len(self.picks) >= len(self.secret):
            return None
        return self.secret[len(self.picks)]


def test_propose_playout_adds_the_rule_of_thumb_action_that_the_policy_would_not_propose() -> None:
    # k=1: the misleading policy offers "a" alone at every node, so search alone can only play "a a a".
    alone = search(TaughtGame(), k=1, simulations=8)
    assert alone.actions == ["a", "a", "a"] and not alone.success
    taught = search(TaughtGame(), k=1, simulations=8, propose_playout=True)
    assert taught.actions == list(SECRET) and taught.success
    # The teacher's move comes first among a node's children, with the policy's own log-prob as its prior.
    root = taught.nodes[0]
    first = taught.nodes[root.children[0]]
    assert [taught.nodes[i].action for i in root.children] == ["b", "a"]
    assert first.prior_logprob == MISLEADING["b"]
    # Where the policy already proposes the teacher's move, nothing is added; greedy play never asks the teacher.
    assert len(search(TaughtGame(), k=3, simulations=8, propose_playout=True).nodes[0].children) == 3
    assert play_greedy(TaughtGame(), TablePolicy(MISLEADING), seed=0).actions == ["a", "a", "a"]
