"""Going back without snapshots (replay + divergence check), and episodes that end in env or infra failures."""

from __future__ import annotations

import dataclasses

from practicum.agents.base import Proposal, StepContext
from practicum.envs.core import FailureKind
from practicum.errors import SnapshotUnsupportedError
from practicum.search import SearchConfig, play_greedy, search_episode
from tests.search.toys import (
    SECRET,
    BrokenPolicy,
    ChoiceGame,
    ChoiceGameNoSnapshot,
    CrashingGame,
    DiceGame,
    DiceGameNoSnapshot,
    DriftingGame,
    FakeClock,
    TableCritic,
    TablePolicy,
    rolls,
)

CONFIG = SearchConfig(simulations=40, evaluation="rollout", rollout_depth=3)


def test_replay_without_snapshots_builds_the_same_tree_as_snapshots() -> None:
    with_snapshots, without = ChoiceGame(), ChoiceGameNoSnapshot()
    assert with_snapshots.supports_snapshot and not without.supports_snapshot
    a = search_episode(with_snapshots, TablePolicy({}), TableCritic(), CONFIG, clock=FakeClock())
    b = search_episode(without, TablePolicy({}), TableCritic(), CONFIG, clock=FakeClock())
    assert a.success and b.success
    assert [dataclasses.asdict(n) for n in a.nodes] == [dataclasses.asdict(n) for n in b.nodes]
    # Snapshots need one reset; replay resets again whenever it must go back to a state off its current line.
    assert with_snapshots.resets == 1
    assert without.resets > 10


def test_replay_draws_the_chance_search_drew_and_builds_the_same_tree_as_snapshots() -> None:
    # Expansions reseed the dice; replay from reset must apply each node's seed again, or it reaches other
    # rolls than the recorded ones (a divergence).
    with_snapshots, without = DiceGame(turns=3), DiceGameNoSnapshot(turns=3)
    a = search_episode(with_snapshots, TablePolicy({}), TableCritic(), CONFIG, clock=FakeClock())
    b = search_episode(without, TablePolicy({}), TableCritic(), CONFIG, clock=FakeClock())
    assert a.failure_kind == b.failure_kind and b.error is None
    assert [dataclasses.asdict(n) for n in a.nodes] == [dataclasses.asdict(n) for n in b.nodes]
    proposed = b.nodes[0].children[:3]  # the k = 3 proposals; the committed twin (the episode's roll) follows
    first = [rolls(b.nodes[i].observation)[0] for i in proposed]
    assert len(set(first)) == len(first) == 3  # siblings met their own rolls
    assert b.path[1].idx not in proposed  # and the committed step drew its own
    assert b.path[-1].is_terminal


def test_replay_that_diverges_is_an_env_failure_not_an_agent_one() -> None:
    tree = search_episode(DriftingGame(), TablePolicy({}), TableCritic(), CONFIG)
    assert tree.failure_kind is FailureKind.ENV and not tree.success
    assert tree.error is not None and "diverged at node 0" in tree.error
    assert "expected '1. Picked so far" in tree.error and "got '2. Picked so far" in tree.error
    assert len(tree.nodes) > 1  # the tree up to the divergence is kept


def test_snapshots_avoid_replay_for_a_game_that_would_diverge() -> None:
    class DriftingWithSnapshots(DriftingGame):
        def _get_state(self) -> object:
            return list(self.picks)

        def _set_state(self, state: object) -> None:
            self.picks = list(state)  # type: ignore[call-overload]

    tree = search_episode(DriftingWithSnapshots(), TablePolicy({}), TableCritic(), CONFIG)
    assert tree.failure_kind is None and tree.success


def test_state_that_cannot_be_snapshotted_falls_back_to_replay() -> None:
    class PartlySnapshottable(ChoiceGame):
        def _get_state(self) -> object:
            if len(self.picks) >= 2:  # e.g. a page whose state cannot be saved
                raise SnapshotUnsupportedError("this page cannot be saved")
            return list(self.picks)

    env = PartlySnapshottable()
    tree = search_episode(env, TablePolicy({}), TableCritic(), CONFIG, clock=FakeClock())
    reference = search_episode(ChoiceGame(), TablePolicy({}), TableCritic(), CONFIG, clock=FakeClock())
    assert tree.success and tree.failure_kind is None
    assert [dataclasses.asdict(n) for n in tree.nodes] == [dataclasses.asdict(n) for n in reference.nodes]
    assert env.resets > 1  # replayed after snapshots stopped working


def test_a_state_that_does_not_pickle_falls_back_to_replay() -> None:
    class Unpicklable(ChoiceGame):
        def _get_state(self) -> object:
            return lambda: None  # pickle refuses lambdas: snapshot() cannot copy this state

    env = Unpicklable()
    tree = search_episode(env, TablePolicy({}), TableCritic(), CONFIG)
    assert tree.success and tree.failure_kind is None  # not an infra failure: search replays instead
    assert env.resets > 1


def test_environment_crash_ends_the_episode_as_infra_with_the_error_text() -> None:
    env = CrashingGame(crash_after=5)
    tree = search_episode(env, TablePolicy({}), TableCritic(), CONFIG)
    assert tree.failure_kind is FailureKind.INFRA and not tree.success
    assert tree.error == "RuntimeError: browser process died"
    assert env.applied == 5 and tree.expansions >= 1  # the tree up to the crash is kept


def test_unreachable_model_backend_ends_the_episode_as_infra() -> None:
    tree = search_episode(ChoiceGame(), BrokenPolicy(), TableCritic(), CONFIG)
    assert tree.failure_kind is FailureKind.INFRA
    assert tree.error is not None and "ModelError" in tree.error and "connection refused" in tree.error
    assert len(tree.nodes) == 1 and tree.steps == 0


def test_invalid_model_output_is_recorded_and_search_goes_on() -> None:
    # The policy also proposes "dance", which is not a legal action, and reports two unusable outputs per call.
    policy = TablePolicy({"dance": -5.0}, extra=["dance"], invalid_outputs=2)
    config = dataclasses.replace(CONFIG, k=4, simulations=100, evaluation="reward")
    tree = search_episode(ChoiceGame(max_steps=6), policy, TableCritic(), config)
    invalid = [n for n in tree.nodes if n.invalid]
    assert invalid and all(n.action == "dance" and n.error and "invalid action" in n.error for n in invalid)
    assert all(not n.is_terminal for n in invalid if n.depth < 6)
    assert tree.invalid_outputs == 2 * len(policy.contexts)
    assert tree.success and tree.actions == list(SECRET)


def test_greedy_policy_that_only_emits_invalid_actions_runs_out_of_steps() -> None:
    tree = play_greedy(ChoiceGame(max_steps=4), TablePolicy({"dance": 0.0}, extra=["dance"]))
    assert tree.actions == ["dance"] * 4
    assert tree.invalid_actions == 4 and tree.steps == 4
    assert tree.failure_kind is FailureKind.AGENT and not tree.success
    assert tree.final.is_terminal and tree.final.error is not None


def test_unparsable_critique_counts_as_a_failure_and_scores_neutral() -> None:
    tree = search_episode(ChoiceGame(), TablePolicy({}), TableCritic({"b": 1.0}, parsed=False), CONFIG)
    scored = [n for n in tree.nodes if n.critic_score is not None]
    assert scored and all(n.critic_score == 0.5 for n in scored)
    assert tree.critic_failures == len({n.parent_idx for n in scored})


def test_policy_with_nothing_to_propose_is_an_agent_failure() -> None:
    class Mute(TablePolicy):
        def propose(
            self, context: StepContext, k: int, *, temperature: float = 1.0, seed: int | None = None
        ) -> Proposal:
            return Proposal(prompt="PROMPT", candidates=[], invalid_outputs=k)

    tree = search_episode(ChoiceGame(), Mute({}), TableCritic(), CONFIG)
    assert tree.failure_kind is FailureKind.AGENT and tree.steps == 0
    assert tree.error is not None and "no usable action" in tree.error
    assert tree.invalid_outputs == 3


def test_environment_that_fails_to_reset_gives_an_empty_infra_tree() -> None:
    class DeadOnArrival(ChoiceGame):
        def _start(self, task: object) -> None:
            raise ConnectionError("the browser never started")

    tree = search_episode(DeadOnArrival(), TablePolicy({}), TableCritic(), CONFIG)
    assert tree.failure_kind is FailureKind.INFRA and tree.error == "ConnectionError: the browser never started"
    assert tree.nodes == [] and tree.path == [] and tree.steps == 0 and tree.task == "choice:0"
