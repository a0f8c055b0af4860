"""Pair and example mining over one episode's nodes (pure functions, hand-built trees)."""

from __future__ import annotations

import dataclasses

from practicum.store import NodeRecord
from practicum.trainer.mining import (
    EpisodeInfo,
    PreferencePair,
    Side,
    balance_by_action,
    divergence,
    rft_examples,
    step_pairs,
    tied_examples,
    trajectory_pairs,
)

PROMPT = "<|im_start|>user\nGoal: exit. Legal actions: left, right, up<|im_end|>\n<|im_start|>assistant\n"


def node(idx: int, parent: int | None, action: str | None, value: float | None, **kw: object) -> NodeRecord:
    return NodeRecord(
        idx=idx,
        parent_idx=parent,
        depth=0 if parent is None else 1,
        action=action,
        prompt=None if parent is None else str(kw.pop("prompt", PROMPT)),
        observation=str(kw.pop("observation", f"obs {idx}")),
        prior_logprob=None if parent is None else -float(idx),
        blended_value=value,
        visits=int(kw.pop("visits", 1)),  # type: ignore[call-overload]
        **kw,  # type: ignore[arg-type]
    )


def episode(eid: int = 1, *, success: bool = True, failure: str | None = None, reward: float = 1.0) -> EpisodeInfo:
    return EpisodeInfo(id=eid, task="path:0", policy_id=7, success=success, failure_kind=failure, reward=reward)


def star(values: dict[str, float | None], **root: object) -> list[NodeRecord]:
    """A root with one child per action (in order), the first one committed."""
    nodes = [node(0, None, None, None, on_path=True, **root)]
    for i, (action, value) in enumerate(values.items(), start=1):
        nodes.append(node(i, 0, action, value, on_path=i == 1))
    return nodes


def test_step_pairs_keep_siblings_whose_value_gap_exceeds_the_margin_largest_first() -> None:
    nodes = star({"right": 0.9, "left": 0.5, "up": 0.85})
    pairs = step_pairs(episode(), nodes, margin=0.1, max_per_node=10)
    assert [(p.chosen.action, p.rejected.action) for p in pairs] == [("right", "left"), ("up", "left")]
    first = pairs[0]
    assert first.prompt == PROMPT and first.kind == "step"
    assert first.margin == 0.9 - 0.5
    assert (first.node_idx, first.chosen.idx, first.rejected.idx) == (0, 1, 2)
    assert (first.chosen.logprob, first.rejected.logprob) == (-1.0, -2.0)  # the behaviour log-probs come along
    assert first.chosen.policy_id == 7 and first.episode_ids == (1,)


def test_step_pairs_respect_the_per_node_cap_and_skip_unvalued_or_invalid_chosen() -> None:
    nodes = star({"a": 1.0, "b": 0.0, "c": 0.2, "d": None})
    assert len(step_pairs(episode(), nodes, margin=0.1, max_per_node=1)) == 1
    nodes[1].invalid = True  # the environment rejected "a": it may only be the rejected side
    pairs = step_pairs(episode(), nodes, margin=0.1, max_per_node=10)
    assert [(p.chosen.action, p.rejected.action) for p in pairs] == [("c", "b")]


def test_an_rft_step_is_marked_overruled_when_the_policy_ranked_a_sibling_first() -> None:
    nodes = star({"right": 0.9, "left": 0.5, "up": 0.1})  # log-probs -1, -2, -3: "right" was its first choice
    assert [x.overruled for x in rft_examples(episode(), nodes, include_failed=False, good_value=0.5)] == [False]
    for n in nodes[1:]:
        n.on_path = n.action == "left"
    assert [x.overruled for x in rft_examples(episode(), nodes, include_failed=False, good_value=0.5)] == [True]
    nodes[1].invalid = True  # the policy's favourite was not a legal move: choosing another overrules nothing
    assert [x.overruled for x in rft_examples(episode(), nodes, include_failed=False, good_value=0.5)] == [False]


def test_moves_search_could_not_tell_from_the_committed_one_become_targets_too() -> None:
    # "right" committed (0.75 over 4 visits); "down" 0.6 over 4 visits is within one standard error of it; "up"
    # 0.0 over 9 visits is below it beyond the errors; "left" was tried twice (too few to count); "hole" is exact.
    nodes = star({"right": 0.75, "down": 0.6, "up": 0.0, "left": 0.9, "hole": 0.0})
    for n, (value, visits) in zip(nodes[1:], ((0.75, 4), (0.6, 4), (0.0, 9), (0.9, 2), (0.0, 1)), strict=True):
        n.value, n.visits = value, visits
    nodes[5].is_terminal = True
    steps = rft_examples(episode(), nodes, include_failed=False, good_value=0.5)
    extra = tied_examples(steps, nodes, margin=0.1, confidence=1.0, min_visits=3)
    assert [(x.completion, x.node_idx, x.prompt) for x in extra] == [("down", 2, PROMPT)]
    assert extra[0].episode_id == steps[0].episode_id and extra[0].kind == "success"
    # With no allowance for error, down's gap of 0.15 counts against it; left, better and now visited enough, counts.
    assert [x.completion for x in tied_examples(steps, nodes, margin=0.1, confidence=0.0, min_visits=2)] == ["left"]


def test_step_pairs_need_siblings_that_search_visited() -> None:
    # An unvisited sibling's Q^ is the critic's guess alone: it pairs only when asked to (min_visits=0).
    nodes = star({"right": 0.9, "left": 0.5, "up": 0.1})
    nodes[3].visits = 0
    assert [
        (p.chosen.action, p.rejected.action) for p in step_pairs(episode(), nodes, margin=0.1, max_per_node=10)
    ] == [("right", "left")]
    assert len(step_pairs(episode(), nodes, margin=0.1, max_per_node=10, min_visits=0)) == 3


def test_a_sibling_that_ended_the_episode_pairs_after_one_visit() -> None:
    # "hole" was tried once and ended the game: its value is exact, unlike "left"'s single rollout.
    nodes = star({"right": 0.9, "left": 0.5, "hole": 0.0})
    nodes[1].visits = 6
    nodes[3].is_terminal = True
    pairs = step_pairs(episode(), nodes, margin=0.1, max_per_node=10, min_visits=3)
    assert [(p.chosen.action, p.rejected.action) for p in pairs] == [("right", "hole")]
    nodes[3].visits = 0  # never reached: its Q^ is a guess, terminal or not
    assert step_pairs(episode(), nodes, margin=0.1, max_per_node=10, min_visits=3) == []


def test_step_pairs_with_confidence_need_a_gap_beyond_the_values_standard_errors() -> None:
    # "right" and "left" were each valued from 4 rollouts (error <= 0.25 each, 0.354 for the gap); "hole" is
    # terminal, its value exact.
    nodes = star({"right": 0.75, "left": 0.25, "hole": 0.0})
    for n, visits in zip(nodes[1:], (4, 4, 9), strict=True):
        n.visits = visits
    nodes[3].is_terminal = True
    plain = step_pairs(episode(), nodes, margin=0.1, max_per_node=10)
    assert {(p.chosen.action, p.rejected.action) for p in plain} == {
        ("right", "left"),
        ("right", "hole"),
        ("left", "hole"),
    }
    sure = step_pairs(episode(), nodes, margin=0.1, max_per_node=10, confidence=1.0)
    # 0.75 - 0.25 = 0.5 > 0.1 + 0.354: kept; 0.75 - 0 > 0.1 + 0.25: kept; 0.25 - 0 < 0.1 + 0.25: dropped.
    assert [(p.chosen.action, p.rejected.action) for p in sure] == [("right", "hole"), ("right", "left")]
    assert step_pairs(episode(), nodes, margin=0.1, max_per_node=10, confidence=3.0) == []


def test_step_pairs_by_search_value_ignore_the_critics_share_of_q_hat() -> None:
    # Q^ says "right" (the critic liked it); the rollouts said "down" (value 0.6 against 0.0).
    nodes = star({"right": 0.45, "down": 0.3})
    nodes[1].value, nodes[2].value = 0.0, 0.6
    by_q_hat = step_pairs(episode(), nodes, margin=0.1, max_per_node=4)
    by_search = step_pairs(episode(), nodes, margin=0.1, max_per_node=4, by="search")
    assert [(p.chosen.action, p.rejected.action) for p in by_q_hat] == [("right", "down")]
    assert [(p.chosen.action, p.rejected.action, round(p.margin, 6)) for p in by_search] == [("down", "right", 0.6)]


def test_no_step_pair_when_no_gap_is_above_the_margin() -> None:
    assert step_pairs(episode(), star({"a": 0.50, "b": 0.45}), margin=0.1, max_per_node=4) == []


def test_env_and_infra_failures_yield_no_rows_at_all() -> None:
    nodes = star({"a": 1.0, "b": 0.0})
    for kind in ("env", "infra"):
        broken = episode(success=False, failure=kind, reward=0.0)
        assert step_pairs(broken, nodes, margin=0.1, max_per_node=4) == []
        assert rft_examples(broken, nodes, include_failed=True, good_value=0.0) == []
        assert trajectory_pairs([(episode(2), nodes), (broken, star({"b": 0.0}))], max_per_task=4) == []


def test_rft_takes_the_committed_valid_steps_of_successes() -> None:
    nodes = star({"right": 0.9, "left": 0.1})
    examples = rft_examples(episode(), nodes, include_failed=False, good_value=0.5)
    assert [(e.prompt, e.completion, e.kind, e.node_idx) for e in examples] == [(PROMPT, "right", "success", 1)]
    nodes[1].invalid = True
    assert rft_examples(episode(), nodes, include_failed=False, good_value=0.5) == []


def test_failed_episode_steps_count_only_when_enabled_and_judged_good_by_search() -> None:
    lost = episode(success=False, failure="agent", reward=0.0)
    good = star({"right": 0.9, "left": 0.1})
    assert rft_examples(lost, good, include_failed=False, good_value=0.5) == []
    found = rft_examples(lost, good, include_failed=True, good_value=0.5)
    assert [(e.completion, e.kind) for e in found] == [("right", "failed_good")]
    weak = star({"right": 0.4, "left": 0.1})  # below the threshold
    assert rft_examples(lost, weak, include_failed=True, good_value=0.5) == []
    beaten = star({"right": 0.6, "left": 0.8})  # a sibling was valued higher
    assert rft_examples(lost, beaten, include_failed=True, good_value=0.5) == []


def walk(actions: list[str], *, start: str = "start", prompts: list[str] | None = None) -> list[NodeRecord]:
    """A committed path from `start`; each step's prompt is the one the policy saw in the state before it."""
    nodes = [node(0, None, None, None, on_path=True, observation=start)]
    for i, action in enumerate(actions, start=1):
        seen = prompts[i - 1] if prompts else f"PROMPT[{start} | {' '.join(actions[: i - 1])}]"
        nodes.append(node(i, i - 1, action, 0.5, on_path=True, observation=f"after {action}", prompt=seen))
    return nodes


def lost(eid: int, **kw: object) -> EpisodeInfo:
    return EpisodeInfo(**{"id": eid, "task": "path:0", "policy_id": 7, "success": False, "failure_kind": "agent", **kw})  # type: ignore[arg-type]


def test_trajectory_pair_is_the_first_diverging_step_with_the_exact_prompt_the_policy_saw() -> None:
    # Both episodes went "right" first, then parted: "left" won, "up" lost. The pair is that second step:
    # the stored prompt of that node (the policy's whole input), and the two actions alone, no observation.
    win = (episode(1, reward=1.0), walk(["right", "left"]))
    loss = (lost(2, reward=0.0), walk(["right", "up", "down"]))
    other_task = (dataclasses.replace(lost(3), task="path:9"), walk(["down"]))
    pairs = trajectory_pairs([win, loss, other_task], max_per_task=4)
    assert len(pairs) == 1
    pair = pairs[0]
    assert (pair.kind, pair.task, pair.chosen.episode_id, pair.rejected.episode_id) == ("trajectory", "path:0", 1, 2)
    assert pair.prompt == win[1][2].prompt == loss[1][2].prompt == "PROMPT[start | right]"
    assert (pair.chosen.action, pair.rejected.action) == ("left", "up")
    assert (pair.node_idx, pair.chosen.idx, pair.rejected.idx) == (None, 2, 2)
    assert pair.margin == 1.0
    # One policy collected both: its logged log-probs are a valid reference for this prompt.
    assert (pair.chosen.logprob, pair.rejected.logprob) == (-2.0, -2.0)
    assert divergence(win[1], loss[1]) == (win[1][2], loss[1][2])


def test_trajectory_pair_from_two_policies_leaves_the_reference_to_the_model() -> None:
    win = (episode(1), walk(["right"]))
    loss = (lost(2, policy_id=8), walk(["up"]))
    (pair,) = trajectory_pairs([win, loss], max_per_task=4)
    assert (pair.prompt, pair.chosen.action, pair.rejected.action) == ("PROMPT[start | ]", "right", "up")
    assert pair.chosen.logprob is None and pair.rejected.logprob is None


def test_no_trajectory_pair_where_the_states_part_before_the_actions_do() -> None:
    # Same first action, but chance (or another prompt version) showed them different states: no shared prompt.
    win = (episode(1), walk(["right", "left"], prompts=["P0", "P1 after a slide"]))
    loss = (lost(2), walk(["right", "up"], prompts=["P0", "P1 without a slide"]))
    assert trajectory_pairs([win, loss], max_per_task=4) == []
    # Identical paths never part either, and a chosen action the environment rejected is never preferred.
    assert (
        trajectory_pairs([win, (lost(2), walk(["right", "left"], prompts=["P0", "P1 after a slide"]))], max_per_task=4)
        == []
    )
    bad_win = walk(["left"])
    bad_win[1].invalid = True
    assert trajectory_pairs([(episode(1), bad_win), (lost(2), walk(["up"]))], max_per_task=4) == []


def test_trajectory_pairs_that_part_the_same_way_are_kept_once_per_task() -> None:
    wins = [(episode(i), walk(["right", "left"])) for i in (1, 2)]
    losses = [(lost(3), walk(["right", "up"])), (lost(4), walk(["down"]))]
    pairs = trajectory_pairs([*wins, *losses], max_per_task=4)
    assert [(p.chosen.action, p.rejected.action, p.chosen.episode_id, p.rejected.episode_id) for p in pairs] == [
        ("left", "up", 1, 3),
        ("right", "down", 1, 4),
    ]
    assert len(trajectory_pairs([*wins, *losses], max_per_task=1)) == 1


def test_mining_is_deterministic() -> None:
    nodes = star({"a": 0.9, "b": 0.1, "c": 0.5, "d": 0.3})
    assert step_pairs(episode(), nodes, margin=0.0, max_per_node=6) == step_pairs(
        episode(), list(reversed(nodes)), margin=0.0, max_per_node=6
    )


def test_balancing_repeats_the_fewer_direction_between_two_actions_until_both_count_alike() -> None:
    def pair(chosen: str, rejected: str, prompt: str) -> PreferencePair:
        return PreferencePair("step", "t", prompt, Side(chosen, 1, None), Side(rejected, 1, None), 0.5)

    right_over_down = [pair("right", "down", f"p{i}") for i in range(5)]
    down_over_right = [pair("down", "right", "q0"), pair(" down", "right ", "q1")]  # spacing is not an action
    down_over_left = [pair("down", "left", "r0")]  # never the other way round: kept once
    balanced = balance_by_action([*right_over_down, *down_over_right, *down_over_left])
    count = {
        (a, b): sum((p.chosen.action.strip(), p.rejected.action.strip()) == (a, b) for p in balanced)
        for a, b in [("right", "down"), ("down", "right"), ("down", "left")]
    }
    assert count == {("right", "down"): 5, ("down", "right"): 5, ("down", "left"): 1}
    assert [
        p.prompt for p in balanced if p.chosen.action.strip() == "down" and p.rejected.action.strip() == "right"
    ] == [
        "q0",
        "q1",
        "q0",
        "q1",
        "q0",
    ]
    assert balanced[:8] == [*right_over_down, *down_over_right, *down_over_left]  # the originals first, in order


def test_an_action_is_valued_over_its_outcome_nodes() -> None:
    # "gamble" met chance: search drew a win (1.0, one visit) and a loss (0.0, three visits), each a node of its
    # own; "safe" ended at 0.6 (four visits). By outcome, 1.0 > 0.6 > 0.0 would pair the two actions both ways;
    # pooled, gamble is worth 0.25 and only "safe over gamble" is a pair.
    nodes = star({"safe": 0.6, "gamble": 1.0})
    nodes.append(node(3, 0, "gamble", 0.0, observation="lost"))
    for n, visits in zip(nodes[1:], (4, 1, 3), strict=True):
        n.visits, n.value, n.is_terminal = visits, float(n.blended_value or 0.0), True
    pairs = step_pairs(episode(), nodes, margin=0.1, max_per_node=10, by="search")
    assert [(p.chosen.action, p.rejected.action, round(p.margin, 3)) for p in pairs] == [("safe", "gamble", 0.35)]
    assert pairs[0].rejected.idx == 2  # the action's first node stands for it
    # A tie with the committed move is judged on the pooled value too: safe (committed) is 0.35 above gamble.
    steps = rft_examples(episode(), nodes, include_failed=False, good_value=0.5)
    assert tied_examples(steps, nodes, margin=0.1, confidence=0.0, min_visits=1) == []
    assert [x.completion for x in tied_examples(steps, nodes, margin=0.4, confidence=0.0, min_visits=1)] == ["gamble"]
