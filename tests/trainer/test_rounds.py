"""Training rounds over a real store: a candidate policy with its lineage, skipped rounds, refused checkpoints."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from practicum.agents.local import LocalModel
from practicum.store import Store, queries
from practicum.store.models import Pair, TrainingRound
from practicum.trainer.checkpoints import MANIFEST
from practicum.trainer.config import DataSettings, DPOSettings, LoraSettings, RFTSettings, TrainConfig
from practicum.trainer.errors import CheckpointError, TrainingError
from practicum.trainer.rounds import register_base_policy, run_round
from tests.tiny_model import make_tiny_model
from tests.trainer.conftest import Collected

QUICK = TrainConfig(
    dpo=DPOSettings(learning_rate=1e-3, max_steps=2, batch_size=4),
    rft=RFTSettings(learning_rate=1e-3, max_steps=2, batch_size=4),
)


def rounds(store: Store) -> list[TrainingRound]:
    with store.session() as s:
        return list(s.scalars(select(TrainingRound).order_by(TrainingRound.id)))


def test_a_round_trains_a_candidate_from_the_new_data_and_records_it(
    store: Store, collected: Collected, tmp_path: Path
) -> None:
    result = run_round(store, QUICK, output_root=tmp_path)
    assert result.status == "trained" and result.policy_in_id == collected.base_policy_id
    assert result.datasets is not None and result.checkpoint is not None
    with store.session() as s:
        policy = queries.get_policy(s, result.policy_out_id)  # type: ignore[arg-type]
        used = s.scalar(select(func.count(Pair.id)).where(Pair.round_id == result.round_id))
    assert (policy.parent_id, policy.iteration, policy.state) == (collected.base_policy_id, 1, "candidate")
    assert policy.metrics["train/dpo_loss_first"] > 0 and policy.metrics["round_id"] == result.round_id
    assert Path(policy.metrics["adapter_path"], "adapter_config.json").is_file()
    assert Path(policy.metrics["datasets_dir"], "step_pairs.jsonl").is_file()
    assert used == len(result.datasets.pairs)  # the pairs it trained on are marked with the round
    LocalModel(policy.checkpoint_path, device="cpu")  # the checkpoint loads as a policy
    manifest = json.loads(Path(policy.checkpoint_path, MANIFEST).read_text())  # type: ignore[arg-type]
    assert manifest["base_model"] == policy.base_model and manifest["round_id"] == result.round_id

    (recorded,) = rounds(store)
    assert (recorded.status, recorded.policy_in_id, recorded.policy_out_id) == (
        "finished",
        collected.base_policy_id,
        policy.id,
    )
    assert recorded.config["datasets"]["step_pairs"]["fingerprint"] == result.datasets.step_pairs.fingerprint
    assert recorded.config["data"]["through_episode_id"] == result.datasets.spec["through_episode_id"]

    # Training the candidate at once: nothing arrived since it was made, so the round is skipped, on record.
    again = run_round(store, QUICK, policy_id=policy.id, output_root=tmp_path)
    assert again.status == "skipped" and "no new training episodes" in (again.reason or "")
    assert rounds(store)[-1].metrics == {"skipped": True, "reason": again.reason}


def test_rft_then_dpo_trains_both_stages_in_order(store: Store, tmp_path: Path) -> None:
    config = TrainConfig(method="rft+dpo", dpo=QUICK.dpo, rft=QUICK.rft)
    result = run_round(store, config, output_root=tmp_path)
    assert result.status == "trained"
    assert result.metrics["train/rft_steps"] == 2 and result.metrics["train/dpo_steps"] == 2
    # DPO after RFT uses the RFT model as its reference, not the log-probs logged before RFT.
    reference = result.metrics["train/dpo_reference"]
    assert reference["source"] == "model"
    # Reference log-probs are computed once per pair up front when the steps would meet a pair more than once.
    assert reference["precomputed"] == (result.metrics["train/dpo_pairs"] <= 2 * 4)
    assert result.checkpoint == tmp_path / f"round-{result.round_id:05d}" / "dpo" / "model"


def test_a_round_from_the_base_fits_the_lineage_root_to_all_data_so_far(
    store: Store, collected: Collected, tmp_path: Path
) -> None:
    import dataclasses

    from safetensors.torch import load_file

    config = dataclasses.replace(QUICK, method="rft", start_from="base", data=DataSettings(aggregate=True))
    first = run_round(store, config, output_root=tmp_path / "a")
    assert first.status == "trained"
    # From the candidate, with nothing new since it was made: the round still trains (all data so far), from the
    # base's weights, and its candidate is the candidate's child.
    second = run_round(store, config, policy_id=first.policy_out_id, output_root=tmp_path / "b")
    assert second.status == "trained" and second.policy_in_id == first.policy_out_id
    with store.session() as s:
        child = queries.get_policy(s, second.policy_out_id)  # type: ignore[arg-type]
        recorded = s.get(TrainingRound, second.round_id)
    assert (child.parent_id, child.iteration) == (first.policy_out_id, 2)
    assert recorded is not None and recorded.config["start_policy_id"] == collected.base_policy_id
    # Same data, same seed, same starting weights: the same model as the first round, not one stacked on it.
    a = load_file(str(Path(first.checkpoint, "model.safetensors")))  # type: ignore[arg-type]
    b = load_file(str(Path(second.checkpoint, "model.safetensors")))  # type: ignore[arg-type]
    assert max((a[k] - b[k]).abs().max().item() for k in a) < 1e-5
    stacked = run_round(
        store,
        dataclasses.replace(config, start_from="policy"),
        policy_id=first.policy_out_id,
        output_root=tmp_path / "c",
    )
    c = load_file(str(Path(stacked.checkpoint, "model.safetensors")))  # type: ignore[arg-type]
    assert max((a[k] - c[k]).abs().max().item() for k in a) > 1e-4


def test_no_pairs_above_the_margin_skips_the_round_with_its_reason(store: Store, tmp_path: Path) -> None:
    config = TrainConfig(data=DataSettings(step_margin=5.0, trajectory_pairs=False))
    result = run_round(store, config, output_root=tmp_path)
    assert result.status == "skipped" and result.policy_out_id is None
    assert result.reason == "dpo: 0 pair(s) above the margin 5.0, fewer than data.min_pairs=1"
    assert rounds(store)[-1].metrics["reason"] == result.reason


def test_a_missing_or_foreign_checkpoint_is_refused_before_a_round_starts(
    store: Store, collected: Collected, tmp_path: Path
) -> None:
    missing = store.register_policy(
        name="gone", base_model="tiny", checkpoint_path=str(tmp_path / "gone"), parent_id=collected.base_policy_id
    )
    with pytest.raises(CheckpointError, match=r"policy \d+ \(gone\)'s checkpoint .* does not exist"):
        run_round(store, QUICK, policy_id=missing, output_root=tmp_path)
    with store.session() as s:
        base = queries.get_policy(s, collected.base_policy_id)
    other = make_tiny_model(tmp_path / "other", hidden=32)  # another architecture than the lineage's base
    foreign = store.register_policy(
        name="foreign",
        base_model=base.base_model,
        checkpoint_path=str(other),
        parent_id=base.id,
        metrics={"signature": base.metrics["signature"]},
    )
    with pytest.raises(CheckpointError, match=r"is another model than its base \(hidden_size: expected 64, found 32"):
        run_round(store, QUICK, policy_id=foreign, output_root=tmp_path)
    assert rounds(store) == []


def test_a_crash_inside_training_marks_the_round_failed(store: Store, tmp_path: Path) -> None:
    config = TrainConfig(lora=LoraSettings(target_modules=("no_such_proj",)), dpo=QUICK.dpo)
    with pytest.raises(TrainingError, match=r"training round \d+ failed: .*no_such_proj"):
        run_round(store, config, output_root=tmp_path)
    (failed,) = rounds(store)
    assert failed.status == "failed" and "no_such_proj" in failed.metrics["error"]


def test_ctrl_c_inside_training_marks_the_round_failed_and_names_its_partial_output(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("practicum.trainer.rounds._train", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run_round(store, TrainConfig(dpo=QUICK.dpo), output_root=tmp_path)
    (failed,) = rounds(store)
    assert failed.status == "failed" and failed.metrics["error"].startswith("interrupted (Ctrl-C)")
    assert failed.metrics["interrupted"] is True  # the loop trains it again under its number on resume
    assert str(tmp_path / f"round-{failed.id:05d}") in failed.metrics["error"]


def test_registering_the_base_model_twice_gives_the_same_policy(empty_store: Store, tiny_model_dir: Path) -> None:
    first = register_base_policy(empty_store, tiny_model_dir)
    assert register_base_policy(empty_store, tiny_model_dir) == first
    with empty_store.session() as s:
        policy = queries.get_policy(s, first)
    assert policy.state == "promoted" and policy.iteration == 0
    assert policy.metrics["signature"]["model_type"] == "llama"
    with pytest.raises(CheckpointError, match="does not exist"):
        register_base_policy(empty_store, tiny_model_dir / "nope")


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 256 kB tmpfs: a checkpoint directory whose disk fills up (needs root; skipped with the reason if not)."""
    mount = tmp_path / "small-disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here ({done.stderr.decode().strip()}); needs root")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def test_a_full_checkpoint_disk_fails_the_round_clearly_and_keeps_the_policy(
    store: Store, collected: Collected, tiny_disk: Path
) -> None:
    with pytest.raises(TrainingError, match="free disk space there") as raised:
        run_round(store, QUICK, output_root=tiny_disk)
    assert "no space left on device" in str(raised.value)
    (failed,) = rounds(store)
    assert failed.status == "failed" and failed.policy_out_id is None
    with store.session() as s:
        assert queries.get_policy(s, collected.base_policy_id).state == "promoted"
