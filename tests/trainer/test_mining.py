"""Pair and example mining over one episode's nodes (pure functions, hand-built trees)."""

from __future__ import annotations

from practicum.store import NodeRecord
from practicum.trainer.mining import EpisodeInfo, conversation, rft_examples, step_pairs, trajectory_pairs

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
    assert [(p.chosen, p.rejected) for p in pairs] == [("right", "left"), ("up", "left")]
    first = pairs[0]
    assert first.prompt == PROMPT and first.kind == "step"
    assert first.margin == 0.9 - 0.5
    assert (first.node_idx, first.chosen_idx, first.rejected_idx) == (0, 1, 2)
    assert (first.chosen_logprob, first.rejected_logprob) == (-1.0, -2.0)  # the behaviour log-probs come along
    assert first.chosen_policy_id == 7 and first.episode_ids == (1,)


def test_step_pairs_respect_the_per_node_cap_and_skip_unvalued_or_invalid_chosen() -> None:
    nodes = star({"a": 1.0, "b": 0.0, "c": 0.2, "d": None})
    assert len(step_pairs(episode(), nodes, margin=0.1, max_per_node=1)) == 1
    nodes[1].invalid = True  # the environment rejected "a": it may only be the rejected side
    pairs = step_pairs(episode(), nodes, margin=0.1, max_per_node=10)
    assert [(p.chosen, p.rejected) for p in pairs] == [("c", "b")]


def test_step_pairs_need_siblings_that_search_visited() -> None:
    # An unvisited sibling's Q^ is the critic's guess alone: it pairs only when asked to (min_visits=0).
    nodes = star({"right": 0.9, "left": 0.5, "up": 0.1})
    nodes[3].visits = 0
    assert [(p.chosen, p.rejected) for p in step_pairs(episode(), nodes, margin=0.1, max_per_node=10)] == [
        ("right", "left")
    ]
    assert len(step_pairs(episode(), nodes, margin=0.1, max_per_node=10, min_visits=0)) == 3


def test_step_pairs_by_search_value_ignore_the_critics_share_of_q_hat() -> None:
    # Q^ says "right" (the critic liked it); the rollouts said "down" (value 0.6 against 0.0).
    nodes = star({"right": 0.45, "down": 0.3})
    nodes[1].value, nodes[2].value = 0.0, 0.6
    by_q_hat = step_pairs(episode(), nodes, margin=0.1, max_per_node=4)
    by_search = step_pairs(episode(), nodes, margin=0.1, max_per_node=4, by="search")
    assert [(p.chosen, p.rejected) for p in by_q_hat] == [("right", "down")]
    assert [(p.chosen, p.rejected, round(p.margin, 6)) for p in by_search] == [("down", "right", 0.6)]


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


def two_step_path(actions: list[str]) -> list[NodeRecord]:
    nodes = [node(0, None, None, None, on_path=True, observation="start")]
    for i, action in enumerate(actions, start=1):
        nodes.append(node(i, i - 1, action, 0.5, on_path=True, observation=f"after {action}"))
    return nodes


def test_conversation_alternates_actions_and_the_observations_they_led_to() -> None:
    prompt, completion = conversation(two_step_path(["right", "left"]))  # type: ignore[misc]
    assert prompt[-1] == {"role": "user", "content": "start"}
    assert completion == [
        {"role": "assistant", "content": "right"},
        {"role": "user", "content": "after right"},
        {"role": "assistant", "content": "left"},
    ]


def test_trajectory_pairs_put_a_success_over_an_agent_failure_of_the_same_task() -> None:
    win = (episode(1, reward=1.0), two_step_path(["right", "left"]))
    loss = (episode(2, success=False, failure="agent", reward=0.0), two_step_path(["up"]))
    other_task = (
        EpisodeInfo(id=3, task="path:9", policy_id=7, success=False, failure_kind="agent"),
        two_step_path(["down"]),
    )
    pairs = trajectory_pairs([win, loss, other_task], max_per_task=4)
    assert len(pairs) == 1
    pair = pairs[0]
    assert (pair.kind, pair.task, pair.chosen_episode_id, pair.rejected_episode_id) == ("trajectory", "path:0", 1, 2)
    assert pair.chosen[-1]["content"] == "left" and pair.rejected == [{"role": "assistant", "content": "up"}]
    assert pair.margin == 1.0 and pair.chosen_logprob is None


def test_mining_is_deterministic() -> None:
    nodes = star({"a": 0.9, "b": 0.1, "c": 0.5, "d": 0.3})
    assert step_pairs(episode(), nodes, margin=0.0, max_per_node=6) == step_pairs(
        episode(), list(reversed(nodes)), margin=0.0, max_per_node=6
    )
