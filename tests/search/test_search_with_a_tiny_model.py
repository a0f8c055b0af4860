"""Search with a real transformers policy and critic (a tiny random model) on a real game environment."""

from __future__ import annotations

import dataclasses

import pytest

from practicum.agents.critic import ModelCritic
from practicum.agents.local import LocalModel, LocalPolicy
from practicum.envs.registry import get_suite
from practicum.search import EpisodeTree, SearchConfig, search_episode

SUITE = "tictactoe"  # against a perfect player that moves at random half of the time
SEARCH = SearchConfig(simulations=10, max_depth=9, k=4, evaluation="rollout", rollout_depth=9, temperature=1.0)


def play(lm: LocalModel, seed: int, config: SearchConfig) -> EpisodeTree:
    suite = get_suite(SUITE)
    policy = LocalPolicy(lm)
    critic = ModelCritic(lm) if config.searches else None
    env = suite.env()
    try:
        return search_episode(env, policy, critic, config, task=suite.task(seed))
    finally:
        env.close()


def test_search_wins_more_games_than_the_same_policy_without_search(tiny_lm: LocalModel) -> None:
    seeds = range(6)
    greedy = [play(tiny_lm, s, SearchConfig(mode="greedy")) for s in seeds]
    searched = [play(tiny_lm, s, SEARCH) for s in seeds]
    greedy_wins = sum(t.success for t in greedy)
    search_wins = sum(t.success for t in searched)
    assert search_wins > greedy_wins, (search_wins, greedy_wins)
    assert all(t.failure_kind is None or t.failure_kind.value == "agent" for t in greedy + searched)


def test_tree_records_the_real_prompts_priors_and_critic_scores(tiny_lm: LocalModel) -> None:
    tree = play(tiny_lm, 1, dataclasses.replace(SEARCH, simulations=6))
    assert tree.prompt_version and tree.model_calls > 0 and tree.prompt_tokens > 0
    assert 0 < tree.model_seconds <= tree.wall_seconds
    for node in tree.nodes:
        children = [tree.nodes[i] for i in node.children]
        if not children:
            continue
        # Where an action meets chance (the opponent's reply), each outcome search or the episode drew is a node
        # of its own beside the first, with the same action, prompt, prior and critic score and another outcome.
        firsts = {c.action: c for c in reversed(children)}
        for c in children:
            first = firsts[c.action]
            assert (c.prompt, c.prior, c.critic_score) == (first.prompt, first.prior, first.critic_score)
        outcomes = [(c.action, c.observation, c.reward, c.is_terminal) for c in children if c.expanded]
        assert len(outcomes) == len(set(outcomes))
        children = [c for c in children if firsts[c.action] is c]
        # Siblings share the prompt the policy saw at their parent, which holds the parent's observation.
        assert len({c.prompt for c in children}) == 1
        assert node.observation is not None and node.observation.strip() in (children[0].prompt or "")
        assert sum(c.prior for c in children) == pytest.approx(1.0)
        assert all(c.prior_logprob is not None and c.prior_logprob < 0 for c in children)
        # The local critic's score of each candidate is its own question's p(Yes) / (p(Yes) + p(No)): read from
        # the model (not the neutral fallback), and not a share of the siblings' total.
        scores = [c.critic_score for c in children]
        assert all(s is not None and 0.0 < s < 1.0 and s != 0.5 for s in scores), scores


def test_same_seed_same_tree_with_a_real_model_and_environment(tiny_lm: LocalModel) -> None:
    config = dataclasses.replace(SEARCH, simulations=5, seed=7)

    def nodes() -> list[dict[str, object]]:
        return [dataclasses.asdict(n) for n in play(tiny_lm, 2, config).nodes]

    assert nodes() == nodes()
