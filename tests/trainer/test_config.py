"""Training configuration: every out-of-range value is a ConfigError naming the field, the value and a fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from practicum.errors import ConfigError, PracticumError
from practicum.trainer.config import (
    DataSettings,
    DPOSettings,
    LoraSettings,
    PromotionConfig,
    RFTSettings,
    ScheduleConfig,
    TrainConfig,
)


def test_defaults_are_valid_and_use_lora_dpo_with_stored_reference() -> None:
    config = TrainConfig()
    assert config.method == "dpo" and config.finetune == "lora"
    assert config.dpo.reference == "stored"
    assert 1e-5 <= config.dpo.learning_rate <= 1e-4
    assert config.stages == ("dpo",)
    assert TrainConfig(method="rft+dpo").stages == ("rft", "dpo")


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: TrainConfig(method="ppo"), r"TrainConfig.method must be one of 'dpo', 'rft', 'rft\+dpo'; got 'ppo'"),
        (lambda: TrainConfig(finetune="qlora"), r"TrainConfig.finetune must be one of 'lora', 'full'"),
        (lambda: DPOSettings(beta=0), r"TrainConfig.dpo.beta is out of range; got 0: use a positive beta"),
        (lambda: DPOSettings(learning_rate=2.0), r"TrainConfig.dpo.learning_rate is out of range; got 2.0"),
        (lambda: DPOSettings(learning_rate=float("nan")), r"TrainConfig.dpo.learning_rate must be a finite number"),
        (lambda: DPOSettings(batch_size=0), r"TrainConfig.dpo.batch_size must be >= 1; got 0"),
        (lambda: DPOSettings(batch_size=2.5), r"TrainConfig.dpo.batch_size must be an integer; got 2.5"),
        (lambda: DPOSettings(micro_batch_size=0), r"TrainConfig.dpo.micro_batch_size must be >= 1; got 0"),
        (
            lambda: RFTSettings(batch_size=4, micro_batch_size=3),
            r"TrainConfig.rft.micro_batch_size \(3\) must divide TrainConfig.rft.batch_size \(4\)",
        ),
        (
            lambda: DPOSettings(batch_size=6, micro_batch_size=4),
            r"TrainConfig.dpo.micro_batch_size \(4\) must divide TrainConfig.dpo.batch_size \(6\)",
        ),
        (lambda: DPOSettings(reference="ema"), r"TrainConfig.dpo.reference must be one of 'stored', 'model'"),
        (lambda: DPOSettings(loss_type="kto"), r"TrainConfig.dpo.loss_type must be one of 'sigmoid'"),
        (lambda: DPOSettings(max_length=8), r"TrainConfig.dpo.max_length must be >= 16; got 8"),
        (lambda: RFTSettings(epochs=0), r"TrainConfig.rft.epochs is out of range; got 0"),
        (lambda: RFTSettings(warmup_ratio=1.0), r"TrainConfig.rft.warmup_ratio is out of range; got 1.0"),
        (lambda: LoraSettings(r=0), r"TrainConfig.lora.r must be >= 1; got 0"),
        (lambda: LoraSettings(target_modules=("lm_head",)), r"contains 'lm_head'.*remove it"),
        (lambda: LoraSettings(target_modules=()), r"TrainConfig.lora.target_modules must be a non-empty tuple"),
        (lambda: DataSettings(step_margin=-0.1), r"TrainConfig.data.step_margin is out of range; got -0.1"),
        (lambda: DataSettings(replay_fraction=1.0), r"TrainConfig.data.replay_fraction is out of range; got 1.0"),
        (lambda: DataSettings(min_pairs=0), r"TrainConfig.data.min_pairs must be >= 1; got 0"),
        (lambda: TrainConfig(seed=-1), r"TrainConfig.seed must be >= 0; got -1"),
        (lambda: TrainConfig(report_to="wandb"), r"TrainConfig.report_to must be a tuple of tracker names"),
        (lambda: TrainConfig(report_to=("none",)), r"name trackers explicitly, or use \(\) for none"),
        (lambda: TrainConfig(dpo={"beta": 0.1}), r"TrainConfig.dpo must be a DPOSettings; got dict"),
        (lambda: PromotionConfig(alpha=0), r"PromotionConfig.alpha is out of range; got 0"),
        (lambda: PromotionConfig(max_negative_flips=-1), r"PromotionConfig.max_negative_flips must be >= 0"),
        (lambda: ScheduleConfig(every_seconds=0), r"ScheduleConfig.every_seconds is out of range; got 0"),
        (
            lambda: ScheduleConfig(min_new_pairs=0, min_new_episodes=0),
            r"ScheduleConfig has no trigger.*set at least one",
        ),
    ],
)
def test_out_of_range_value_names_field_value_and_fix(build: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        build()  # type: ignore[operator]
    assert isinstance(caught.value, PracticumError)


def test_the_last_loss_is_the_mean_of_the_last_pass_not_of_a_remainder_batch() -> None:
    from practicum.trainer.stages import summarize

    # Two passes over 10 rows in batches of 4: steps of 4, 4, 2 rows each pass; the remainder step's loss is low.
    history = [
        {"loss": 1.0, "epoch": 0.4},
        {"loss": 0.8, "epoch": 0.8},
        {"loss": 0.6, "epoch": 1.0},
        {"loss": 0.5, "epoch": 1.4},
        {"loss": 0.4, "epoch": 1.8},
        {"loss": 0.05, "epoch": 2.0},
        {"train_loss": 0.55, "epoch": 2.0},  # the trainer's summary line carries no per-step loss
    ]
    metrics = summarize("rft", history, steps=6, seconds=3.0)
    assert metrics["train/rft_loss_first"] == 1.0
    assert metrics["train/rft_loss_last"] == pytest.approx((0.5 + 0.4 + 0.05) / 3)
    assert summarize("rft", [{"loss": 0.7}], steps=1, seconds=1.0)["train/rft_loss_last"] == 0.7


def test_a_micro_batch_above_the_batch_is_the_whole_batch(tmp_path: Path) -> None:
    # The practice run's RFT micro-batch (4) must not turn a user's `rft: {batch_size: 2}` into an error.
    from practicum.trainer.stages import trl_arguments

    settings = RFTSettings(batch_size=2, micro_batch_size=4)
    args = trl_arguments(settings, TrainConfig(), tmp_path, progress=False)
    assert (args["per_device_train_batch_size"], args["gradient_accumulation_steps"]) == (2, 1)
    split = trl_arguments(RFTSettings(batch_size=8, micro_batch_size=4), TrainConfig(), tmp_path, progress=False)
    assert (split["per_device_train_batch_size"], split["gradient_accumulation_steps"]) == (4, 2)
