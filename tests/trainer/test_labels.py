"""Hand relabels of pairs (`practicum browse --allow-edits`) survive the trainer's re-mining of the trees."""

from __future__ import annotations

from practicum.browse.edits import relabel_pair
from practicum.store import Store
from practicum.trainer.datasets import build_datasets
from practicum.trainer.rounds import _pair_ids


def test_swapped_and_dropped_pairs_train_as_labelled_and_others_as_mined(store: Store) -> None:
    mined = build_datasets(store)
    steps, trajs = list(mined.step_pairs.rows), list(mined.trajectory_pairs.rows)
    assert len(steps) >= 3 and trajs
    ids = _pair_ids(store, (steps[0], steps[1], trajs[0]))  # the rows a training round records
    relabel_pair(store, ids[0], "swap", "the critic had these two backwards")
    relabel_pair(store, ids[1], "drop", "both moves are fine")
    relabel_pair(store, ids[2], "swap", "the 'failure' was the better run")

    again = build_datasets(store)
    assert again.step_pairs.rows[0] == steps[0].swapped()
    assert steps[1] not in again.step_pairs.rows and steps[1].swapped() not in again.step_pairs.rows
    assert list(again.step_pairs.rows[1:]) == steps[2:]  # untouched pairs are mined as before, in order
    assert trajs[0].swapped() in again.trajectory_pairs.rows and trajs[0] not in again.trajectory_pairs.rows
    swapped_step = again.step_pairs.rows[0]
    assert swapped_step.chosen == steps[0].rejected and swapped_step.rejected == steps[0].chosen

    relabel_pair(store, ids[1], "keep", "on second thought")
    assert steps[1] in build_datasets(store).step_pairs.rows
    relabel_pair(store, ids[0], "swap", "undo")  # swapped back: the mined orientation again
    assert build_datasets(store).step_pairs.rows[0] == steps[0]
