"""DPO through TRL on pairs mined from real search trees, with the behaviour log-probs as reference."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from trl import DPOConfig, DPOTrainer

from practicum.agents.local import LocalModel
from practicum.store import Store
from practicum.trainer.checkpoints import load_for_training
from practicum.trainer.config import DPOSettings, TrainConfig
from practicum.trainer.datasets import build_datasets
from practicum.trainer.dpo import pairs_to_trl, train_dpo
from practicum.trainer.dpo_trainer import REF_COLUMNS
from practicum.trainer.errors import CheckpointError, EmptyDatasetError
from practicum.trainer.mining import PreferencePair, Side
from practicum.trainer.stages import trl_arguments
from tests.trainer.conftest import Collected

FAST = TrainConfig(dpo=DPOSettings(learning_rate=1e-3, max_steps=8, batch_size=4, beta=0.1))


def margins(model_dir: Path, pairs: list[PreferencePair]) -> list[float]:
    """log p(chosen) - log p(rejected) under the model in `model_dir`, measured by the policy's own scorer."""
    model = LocalModel(model_dir, device="cpu")
    out = []
    for p in pairs:
        chosen, rejected = model.score(str(p.prompt), [p.chosen.action, p.rejected.action]).logprobs
        out.append(chosen - rejected)
    return out


def weights(model_dir: Path) -> dict[str, torch.Tensor]:
    return load_file(str(model_dir / "model.safetensors"))


def test_stored_behaviour_logprobs_equal_the_reference_logprobs_trl_computes(
    store: Store, tiny_model_dir: Path, tmp_path: Path
) -> None:
    pairs = list(build_datasets(store).step_pairs.rows)
    assert pairs and all(p.chosen.logprob is not None for p in pairs)
    model, tokenizer = load_for_training(tiny_model_dir)
    stored = pairs_to_trl(pairs, tokenizer, stored_reference=True)
    plain = stored.remove_columns([*REF_COLUMNS, "reference_is_behaviour"])
    args = DPOConfig(
        output_dir=str(tmp_path),
        bf16=False,
        use_cpu=True,
        precompute_ref_log_probs=True,
        report_to="none",
        activation_checkpointing=False,
    )
    trainer = DPOTrainer(model=model, args=args, train_dataset=plain, processing_class=tokenizer)
    for column in REF_COLUMNS:  # TRL's own reference pass over the same rows
        computed = torch.tensor(trainer.train_dataset[column])
        assert torch.allclose(torch.tensor(stored[column]), computed, atol=1e-4), column


def test_dpo_on_mined_pairs_changes_the_weights_lowers_the_loss_and_widens_the_margin(
    store: Store, collected: Collected, tiny_model_dir: Path, tmp_path: Path
) -> None:
    data = build_datasets(store)
    steps, trajectories = list(data.step_pairs.rows), list(data.trajectory_pairs.rows)
    assert trajectories, "the collection has a success and a failure on one task"
    result = train_dpo(tiny_model_dir, steps + trajectories, tmp_path / "dpo", FAST, policy_id=collected.base_policy_id)

    m = result.metrics
    assert m["train/dpo_steps"] == 8
    assert m["train/dpo_loss_last"] < m["train/dpo_loss_first"]
    assert m["train/dpo_margin_last"] > m["train/dpo_margin_first"]
    reference = m["train/dpo_reference"]
    assert reference["source"] == "stored" and not reference["recomputed_all"]
    # No reference pass at all: trajectory pairs are steps too, and one policy collected both of their episodes.
    assert all(p.chosen.logprob is not None for p in trajectories)
    assert reference["stored_rows"] == len(steps) + len(trajectories) and reference["computed_rows"] == 0
    assert reference["checked_rows"] == 2 and reference["max_abs_diff"] < 1e-4

    before, after = weights(tiny_model_dir), weights(result.model_dir)
    assert any(not torch.equal(before[k], after[k]) for k in before)
    assert result.adapter_dir is not None and (result.adapter_dir / "adapter_config.json").is_file()
    # Measured independently of TRL: the chosen actions gained on the rejected ones.
    gained = sum(margins(result.model_dir, steps)) - sum(margins(tiny_model_dir, steps))
    assert gained > 0


def test_stored_logprobs_that_do_not_match_the_model_are_recomputed_with_the_reason(
    store: Store, collected: Collected, tiny_model_dir: Path, tmp_path: Path
) -> None:
    pairs = [
        dataclasses.replace(p, chosen=dataclasses.replace(p.chosen, logprob=p.chosen.logprob + 1.0))  # type: ignore[operator]
        for p in build_datasets(store).step_pairs.rows[:4]
    ]
    config = dataclasses.replace(FAST, dpo=dataclasses.replace(FAST.dpo, max_steps=1))
    result = train_dpo(tiny_model_dir, pairs, tmp_path / "dpo", config, policy_id=collected.base_policy_id)
    reference = result.metrics["train/dpo_reference"]
    assert reference["recomputed_all"] and (reference["stored_rows"], reference["computed_rows"]) == (0, 4)
    assert reference["max_abs_diff"] == pytest.approx(1.0, abs=1e-3)
    assert "all reference log-probs were recomputed" in reference["reason"]
    assert result.metrics["train/dpo_loss_first"] == pytest.approx(0.6931, abs=1e-3)  # a true reference again


def test_full_finetuning_updates_the_weights_without_an_adapter(
    store: Store, collected: Collected, tiny_model_dir: Path, tmp_path: Path
) -> None:
    pairs = list(build_datasets(store).step_pairs.rows[:8])
    config = TrainConfig(finetune="full", dpo=DPOSettings(learning_rate=1e-4, max_steps=2, batch_size=4))
    result = train_dpo(tiny_model_dir, pairs, tmp_path / "full", config, policy_id=collected.base_policy_id)
    assert result.adapter_dir is None
    before, after = weights(tiny_model_dir), weights(result.model_dir)
    changed = [k for k in before if not torch.equal(before[k], after[k])]
    assert any("layers.0.self_attn.q_proj" in k for k in changed) and any("mlp" in k for k in changed)
    assert result.metrics["train/dpo_reference"]["stored_rows"] == len(pairs)


def test_an_sft_weight_adds_the_chosen_actions_nll_and_keeps_it_likely(
    store: Store, collected: Collected, tiny_model_dir: Path, tmp_path: Path
) -> None:
    pairs = list(build_datasets(store).step_pairs.rows)
    config = dataclasses.replace(FAST, dpo=dataclasses.replace(FAST.dpo, max_steps=4))
    plain = train_dpo(tiny_model_dir, pairs, tmp_path / "plain", config, policy_id=collected.base_policy_id).metrics
    rpo_config = dataclasses.replace(config, dpo=dataclasses.replace(config.dpo, sft_weight=1.0))
    rpo = train_dpo(tiny_model_dir, pairs, tmp_path / "rpo", rpo_config, policy_id=collected.base_policy_id).metrics
    # Step one: the policy is the reference, so DPO's loss is ln 2 and the NLL of the chosen actions comes on top.
    assert plain["train/dpo_loss_first"] == pytest.approx(0.6931, abs=1e-3)
    assert rpo["train/dpo_loss_first"] > plain["train/dpo_loss_first"] + 0.1
    assert rpo["train/dpo_logps_chosen_last"] > plain["train/dpo_logps_chosen_last"]


def test_precomputing_the_reference_pays_when_steps_meet_pairs_more_than_once() -> None:
    from practicum.trainer.dpo import _precompute_pays

    assert _precompute_pays(14, DPOSettings(max_steps=8, batch_size=4))  # 32 scored rows for 14 pairs
    assert not _precompute_pays(138, DPOSettings(max_steps=8, batch_size=4))
    assert _precompute_pays(138, DPOSettings(epochs=1.0)) and not _precompute_pays(138, DPOSettings(epochs=0.5))


def test_a_precomputed_model_reference_trains_the_same_as_one_computed_every_step(
    store: Store, collected: Collected, tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import practicum.trainer.dpo as dpo_module

    pairs = list(build_datasets(store).step_pairs.rows)
    config = dataclasses.replace(FAST, dpo=dataclasses.replace(FAST.dpo, reference="model", max_steps=3))
    got = {}
    for precompute in (False, True):
        monkeypatch.setattr(dpo_module, "_precompute_pays", lambda rows, settings, p=precompute: p)
        result = train_dpo(tiny_model_dir, pairs, tmp_path / str(precompute), config, policy_id=None)
        assert result.metrics["train/dpo_reference"]["precomputed"] is precompute
        got[precompute] = result.metrics
    for key in ("train/dpo_loss_first", "train/dpo_loss_last", "train/dpo_margin_last"):
        assert got[True][key] == pytest.approx(got[False][key], abs=1e-3), key


def test_the_reference_pass_draws_its_bar_only_with_progress(
    store: Store, tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture
) -> None:
    # The loop trains with progress off when its output is not a terminal (a log file): no tqdm bars there.
    import practicum.trainer.dpo as dpo_module

    monkeypatch.setattr(dpo_module, "_precompute_pays", lambda rows, settings: True)
    monkeypatch.delenv("TQDM_DISABLE", raising=False)
    pairs = list(build_datasets(store).step_pairs.rows)
    config = dataclasses.replace(FAST, dpo=dataclasses.replace(FAST.dpo, reference="model", max_steps=1))
    bar = "Computing reference log probs"
    for progress, some in ((False, pairs[:4]), (True, pairs[4:8])):  # other pairs: TRL caches a dataset's pass
        capfd.readouterr()
        train_dpo(tiny_model_dir, some, tmp_path / str(progress), config, policy_id=None, progress=progress)
        assert (bar in capfd.readouterr().err) is progress
    assert "TQDM_DISABLE" not in os.environ


def test_no_pairs_or_a_missing_model_is_a_clear_error(tiny_model_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(EmptyDatasetError, match=r"no preference pairs.*lower TrainConfig\.data\.step_margin"):
        train_dpo(tiny_model_dir, [], tmp_path / "out")
    pair = PreferencePair("step", "t", "p", Side("a", 1, None), Side("b", 1, None), 1.0)
    with pytest.raises(CheckpointError, match="does not exist"):
        train_dpo(tmp_path / "missing", [pair], tmp_path / "out")


def test_trackers_are_passed_to_trl_only_when_asked(tmp_path: Path) -> None:
    assert trl_arguments(FAST.dpo, FAST, tmp_path, progress=False)["report_to"] == "none"
    asked = dataclasses.replace(FAST, report_to=("tensorboard", "wandb"))
    assert trl_arguments(asked.dpo, asked, tmp_path, progress=False)["report_to"] == ["tensorboard", "wandb"]
