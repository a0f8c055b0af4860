"""Every knob of a training round, typed, documented and checked on construction.

`TrainConfig` says what one round runs (DPO, RFT, or RFT then DPO), how (LoRA or full fine-tuning) and on
which data (`DataSettings`); `PromotionConfig` says when a trained policy replaces its parent, and
`ScheduleConfig` when a round is due. A bad value raises `ConfigError` naming the field, the value and a fix.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from practicum.checks import choice, int_at_least, number
from practicum.errors import ConfigError

Method = Literal["dpo", "rft", "rft+dpo"]
Finetune = Literal["lora", "full"]
Reference = Literal["stored", "model"]
StartFrom = Literal["policy", "base"]
RFTTargets = Literal["committed", "ties"]
PairValue = Literal["blended", "search"]

METHODS: tuple[Method, ...] = ("dpo", "rft", "rft+dpo")
FINETUNES: tuple[Finetune, ...] = ("lora", "full")
REFERENCES: tuple[Reference, ...] = ("stored", "model")
STARTS: tuple[StartFrom, ...] = ("policy", "base")
LOSS_TYPES: tuple[str, ...] = ("sigmoid", "ipo", "hinge", "robust")


@dataclass(frozen=True)
class LoraSettings:
    """The LoRA adapter trained by peft when `TrainConfig.finetune == "lora"`."""

    r: int = 16
    """Rank of the adapter matrices (>= 1)."""

    alpha: int = 32
    """LoRA scaling numerator (>= 1); the update is scaled by alpha / r."""

    dropout: float = 0.0
    """Dropout on the adapter's input, in [0, 1)."""

    target_modules: tuple[str, ...] = ("all-linear",)
    """Module names to adapt; ("all-linear",) adapts every linear layer except the output head."""

    top_layers: int = 0
    """Adapt only the last N transformer blocks (0: every block). Backpropagation then stops at the lowest
    adapted block: on SmolLM2-135M (30 blocks), the top 15 train an RFT pass in about 3/4 of the time."""

    def __post_init__(self) -> None:
        int_at_least("TrainConfig.lora.r", self.r, 1, "use a rank such as 8 or 16")
        int_at_least("TrainConfig.lora.alpha", self.alpha, 1, "use e.g. twice the rank")
        int_at_least("TrainConfig.lora.top_layers", self.top_layers, 0, "use 0 to adapt every block")
        number("TrainConfig.lora.dropout", self.dropout, lambda v: 0 <= v < 1, "use a dropout in [0, 1), e.g. 0.0")
        if not self.target_modules or not all(isinstance(m, str) and m for m in self.target_modules):
            raise ConfigError(
                f"TrainConfig.lora.target_modules must be a non-empty tuple of module names; got "
                f"{self.target_modules!r}: use ('all-linear',) or e.g. ('q_proj', 'v_proj')"
            )
        if "lm_head" in self.target_modules:
            raise ConfigError(
                "TrainConfig.lora.target_modules contains 'lm_head'; TRL computes log-probs from the head's "
                "weight directly, so an adapter there would never train: remove it"
            )


@dataclass(frozen=True)
class DPOSettings:
    """TRL `DPOTrainer` settings for one round."""

    beta: float = 0.1
    """Strength of the KL constraint to the reference (> 0)."""

    learning_rate: float = 5e-5
    """Peak learning rate (> 0, < 1). LoRA works at 1e-5..1e-4; full fine-tuning wants ~1e-6..1e-5."""

    epochs: float = 1.0
    """Passes over the pairs when `max_steps` is 0 (> 0)."""

    max_steps: int = 0
    """Optimizer steps; 0 means "run `epochs` passes" (>= 0)."""

    batch_size: int = 4
    """Pairs per optimizer step (>= 1)."""

    micro_batch_size: int = 1
    """Pairs per forward pass (>= 1, dividing `batch_size`, or above it: the whole batch at once); the rest is
    gradient accumulation. One pair at a time keeps a CPU step's peak memory low: TRL's log-prob tiles grow with
    the tokens of a forward pass (SmolLM2-135M, 4 pairs/step: ~2.5 GB one pair at a time vs ~7 GB all four at
    once, at about the same speed).
    Raise it on a GPU."""

    max_length: int = 1024
    """Longest prompt + completion in tokens; longer examples are cut at the end (>= 16)."""

    reference: Reference = "stored"
    """Where the reference log-probs come from: "stored" uses the behaviour log-probs logged at collection time
    (no reference forward pass) wherever a pair has them and computes the rest; "model" computes all of them
    (the adapter-disabled base under LoRA, a frozen copy under full fine-tuning)."""

    verify_reference_rows: int = 2
    """With reference="stored": how many pairs collected by the policy being trained to recompute with TRL and
    compare against the stored values before training (>= 0). A mismatch means the stored values do not cover
    the tokens TRL scores; then all reference log-probs are recomputed and the reason is recorded."""

    reference_tolerance: float = 0.05
    """Largest accepted |stored - recomputed| reference log-prob, in nats (> 0)."""

    loss_type: str = "sigmoid"
    """TRL loss: "sigmoid" (DPO), "ipo", "hinge" or "robust"."""

    warmup_ratio: float = 0.0
    """Share of the steps spent warming the learning rate up, in [0, 1)."""

    sft_weight: float = 0.0
    """Weight of an NLL term on the chosen action added to the DPO loss (>= 0; 0 = plain DPO). DPO alone can
    lower the likelihood of both actions of a pair and hand the mass to neither (measured on one round of
    tic-tac-toe pairs: the chosen action's mean log-prob fell from -2.96 to -3.25 nats over 8 steps while the
    margin barely moved; with weight 1.0 it rose to -2.59); the NLL term (RPO, Pang et al. 2024; TRL's "sft"
    loss) keeps the chosen action likely."""

    def __post_init__(self) -> None:
        number("TrainConfig.dpo.beta", self.beta, lambda v: v > 0, "use a positive beta such as 0.1")
        _learning_rate("TrainConfig.dpo.learning_rate", self.learning_rate)
        number("TrainConfig.dpo.epochs", self.epochs, lambda v: v > 0, "use a positive number of passes, e.g. 1")
        int_at_least("TrainConfig.dpo.max_steps", self.max_steps, 0, "use 0 to train for `epochs` passes")
        int_at_least("TrainConfig.dpo.batch_size", self.batch_size, 1, "use at least one pair per batch")
        _micro_batch("TrainConfig.dpo", self.batch_size, self.micro_batch_size)
        int_at_least("TrainConfig.dpo.max_length", self.max_length, 16, "allow at least 16 tokens")
        choice("TrainConfig.dpo.reference", self.reference, REFERENCES)
        int_at_least("TrainConfig.dpo.verify_reference_rows", self.verify_reference_rows, 0, "use 0 to skip the check")
        number("TrainConfig.dpo.reference_tolerance", self.reference_tolerance, lambda v: v > 0, "use e.g. 0.05 nats")
        choice("TrainConfig.dpo.loss_type", self.loss_type, LOSS_TYPES)
        number("TrainConfig.dpo.warmup_ratio", self.warmup_ratio, lambda v: 0 <= v < 1, "use a share in [0, 1)")
        number("TrainConfig.dpo.sft_weight", self.sft_weight, lambda v: v >= 0, "use 0 (plain DPO) or e.g. 1.0")


@dataclass(frozen=True)
class RFTSettings:
    """TRL `SFTTrainer` settings for rejection-sampling fine-tuning (loss on the action tokens only)."""

    learning_rate: float = 5e-5
    """Peak learning rate (> 0, < 1)."""

    epochs: float = 1.0
    """Passes over the examples when `max_steps` is 0 (> 0)."""

    max_steps: int = 0
    """Optimizer steps; 0 means "run `epochs` passes" (>= 0)."""

    batch_size: int = 4
    """Examples per optimizer step (>= 1)."""

    micro_batch_size: int = 1
    """Examples per forward pass (>= 1, dividing `batch_size`, or above it: the whole batch at once); the rest is
    gradient accumulation."""

    max_length: int = 1024
    """Longest prompt + completion in tokens (>= 16)."""

    warmup_ratio: float = 0.0
    """Share of the steps spent warming the learning rate up, in [0, 1)."""

    def __post_init__(self) -> None:
        _learning_rate("TrainConfig.rft.learning_rate", self.learning_rate)
        number("TrainConfig.rft.epochs", self.epochs, lambda v: v > 0, "use a positive number of passes, e.g. 1")
        int_at_least("TrainConfig.rft.max_steps", self.max_steps, 0, "use 0 to train for `epochs` passes")
        int_at_least("TrainConfig.rft.batch_size", self.batch_size, 1, "use at least one example per batch")
        _micro_batch("TrainConfig.rft", self.batch_size, self.micro_batch_size)
        int_at_least("TrainConfig.rft.max_length", self.max_length, 16, "allow at least 16 tokens")
        number("TrainConfig.rft.warmup_ratio", self.warmup_ratio, lambda v: 0 <= v < 1, "use a share in [0, 1)")


@dataclass(frozen=True)
class DataSettings:
    """Which rows of the store become training data."""

    step_margin: float = 0.1
    """Step pairs: the chosen sibling's blended value Q^ must exceed the rejected one's by more than this (>= 0)."""

    max_pairs_per_node: int = 4
    """Step pairs kept per tree node, largest Q^ gap first (>= 1)."""

    min_visits: int = 1
    """Step pairs only between siblings search visited at least this often (>= 0; 0 also pairs unvisited
    siblings, whose Q^ is the critic's score alone)."""

    pair_confidence: float = 0.0
    """Step pairs: the gap must also exceed this many standard errors of the two siblings' values (>= 0; 0:
    the margin alone). A value from n visits has an error of at most 0.5 / sqrt(n); a terminal one is exact."""

    pair_value: PairValue = "blended"
    """What ranks siblings for step pairs: "blended" (Q^, Agent Q's choice, right with a strong critic) or
    "search" (Q_mcts alone: what the environment's rewards said; use it when the critic is the small policy
    itself, whose scores mirror the policy's own bias)."""

    trajectory_pairs: bool = True
    """Also pair a success with a failure on the same task (ETO)."""

    max_trajectory_pairs_per_task: int = 4
    """Trajectory pairs kept per task (>= 1)."""

    include_failed_steps: bool = False
    """RFT: also train on the committed steps of failed episodes that search judged good (Q^ >= `good_step_value`
    and the best valued of their siblings), as in "Exploring Expert Failures"."""

    good_step_value: float = 0.5
    """The Q^ a step of a failed episode needs to count as good (finite)."""

    rft_targets: RFTTargets = "committed"
    """RFT: "committed" trains on the move search committed to at each step; "ties" also on every other legal
    move at that node that search could not tell from it (not below it by more than `step_margin` plus
    `tie_confidence` standard errors, visited `min_visits` times): where moves tie, the committed one follows
    the policy's own prior, and training on it alone sharpens that prior."""

    tie_confidence: float = 0.0
    """RFT ties (`rft_targets: "ties"`): standard errors of the two values, beyond `step_margin`, by which a move
    may trail the committed one and still tie (>= 0; 0: the margin alone). The error is the worst case,
    0.5 / sqrt(visits), so with a few visits one error admits almost any visited move: measured on 80 FrozenLake
    train lakes with four heavy playouts per leaf, the RFT rows (ties included) were 74-77% optimal moves at 1 and
    97-98% at 0 (benchmarks/search_labels.py)."""

    overruled_repeat: int = 1
    """RFT: a step where search committed to another move than the one the policy itself ranked first appears
    this many times (>= 1; 1: once, like every other step). Those steps carry what search knew and the policy did
    not; the others mostly repeat the policy's own choice."""

    max_copies: int | None = None
    """RFT: each distinct (prompt, completion) row is kept at most this many times (>= 1; None: as often as it was
    mined, before `overruled_repeat`). In a small game many episodes pass the same states (every FrozenLake episode
    begins at the same first few prompts), so most mined rows repeat a few prompts; training time goes to the
    repeats and the policy learns the start of the route best. Measured on a default FrozenLake round: 110 rows,
    50 distinct, 28 distinct prompts."""

    balance_pairs: bool = False
    """Step pairs: weigh both directions between two actions alike, repeating the fewer side's pairs
    (`mining.balance_by_action`), so that DPO cannot fit them by preferring one action's word everywhere."""

    sampled_episodes: bool = False
    """Also learn from episodes played by sampling the policy alone (mode "sample": the loop's pass@k
    measurement). Off by default: their wins are mostly luck. Measured on tic-tac-toe (one iteration, exact
    solver values): the moves of search's wins were optimal 85% of the time (mean regret 0.026), those of
    sampled wins 62% (0.091), and a round that learnt from both taught the policy bad openings."""

    replay_fraction: float = 0.0
    """Share of each dataset drawn from data older than the current policy, in [0, 1)."""

    aggregate: bool = False
    """Every round learns from all the episodes read so far (of the run, when the round reads one run), not only
    those that arrived since the policy was made: the data grows round by round, as in STaR and ReST, instead of
    each round seeing a handful of new episodes. `replay_fraction` then has nothing older to draw from."""

    min_pairs: int = 1
    """A DPO stage runs only with at least this many pairs; otherwise the round is skipped (>= 1)."""

    min_rft_examples: int = 1
    """An RFT stage runs only with at least this many examples; otherwise the round is skipped (>= 1)."""

    def __post_init__(self) -> None:
        number("TrainConfig.data.step_margin", self.step_margin, lambda v: v >= 0, "use a gap >= 0, e.g. 0.1")
        number(
            "TrainConfig.data.pair_confidence", self.pair_confidence, lambda v: v >= 0, "use 0 (margin only) or e.g. 1"
        )
        number(
            "TrainConfig.data.tie_confidence", self.tie_confidence, lambda v: v >= 0, "use 0 (margin only) or e.g. 1"
        )
        int_at_least(
            "TrainConfig.data.max_pairs_per_node", self.max_pairs_per_node, 1, "keep at least one pair per node"
        )
        int_at_least("TrainConfig.data.min_visits", self.min_visits, 0, "use 0 to also pair unvisited siblings")
        if self.pair_value not in ("blended", "search"):
            raise ConfigError(f"TrainConfig.data.pair_value must be 'blended' or 'search'; got {self.pair_value!r}")
        int_at_least(
            "TrainConfig.data.max_trajectory_pairs_per_task", self.max_trajectory_pairs_per_task, 1, "keep at least one"
        )
        number("TrainConfig.data.good_step_value", self.good_step_value, lambda v: True, "use a value such as 0.5")
        number("TrainConfig.data.replay_fraction", self.replay_fraction, lambda v: 0 <= v < 1, "use a share in [0, 1)")
        if self.rft_targets not in ("committed", "ties"):
            raise ConfigError(f"TrainConfig.data.rft_targets must be 'committed' or 'ties'; got {self.rft_targets!r}")
        if self.max_copies is not None:
            int_at_least("TrainConfig.data.max_copies", self.max_copies, 1, "use None to keep every copy")
        int_at_least("TrainConfig.data.overruled_repeat", self.overruled_repeat, 1, "use 1 to weigh every step alike")
        int_at_least("TrainConfig.data.min_pairs", self.min_pairs, 1, "require at least one pair")
        int_at_least("TrainConfig.data.min_rft_examples", self.min_rft_examples, 1, "require at least one example")


@dataclass(frozen=True)
class TrainConfig:
    """What one training round runs and how."""

    method: Method = "dpo"
    """"dpo" (preference pairs), "rft" (successful steps, SFT) or "rft+dpo" (RFT, then DPO from its result)."""

    finetune: Finetune = "lora"
    """"lora" trains a peft adapter and merges it; "full" updates every weight."""

    start_from: StartFrom = "policy"
    """The weights a round starts from: "policy" (the policy it trains, so rounds stack) or "base" (the first
    policy of that policy's lineage; with `data.aggregate` every round then fits the base to all data so far, as
    ReST-EM does, and a bad round cannot carry over into the next). The candidate's parent is the trained policy
    either way, so promotion compares it with the policy it would replace."""

    lora: LoraSettings = field(default_factory=LoraSettings)
    dpo: DPOSettings = field(default_factory=DPOSettings)
    rft: RFTSettings = field(default_factory=RFTSettings)
    data: DataSettings = field(default_factory=DataSettings)

    bf16: bool = False
    """Train under bf16 autocast (faster on CPUs with avx512_bf16 and on GPUs; fp32 when False)."""

    gradient_checkpointing: bool = False
    """Recompute activations in the backward pass: less memory, more time; off for small models."""

    seed: int = 0
    """Seed for adapter initialisation, data order and replay sampling (>= 0)."""

    report_to: tuple[str, ...] = ()
    """TRL/transformers trackers to log to as well as the store, e.g. ("tensorboard",); () logs to the store only."""

    logging_steps: int = 1
    """Log training metrics every this many optimizer steps (>= 1)."""

    def __post_init__(self) -> None:
        choice("TrainConfig.method", self.method, METHODS)
        choice("TrainConfig.finetune", self.finetune, FINETUNES)
        choice("TrainConfig.start_from", self.start_from, STARTS)
        for name, kind in (("lora", LoraSettings), ("dpo", DPOSettings), ("rft", RFTSettings), ("data", DataSettings)):
            value = getattr(self, name)
            if not isinstance(value, kind):
                raise ConfigError(f"TrainConfig.{name} must be a {kind.__name__}; got {type(value).__name__}")
        int_at_least("TrainConfig.seed", self.seed, 0, "use a non-negative integer seed")
        int_at_least("TrainConfig.logging_steps", self.logging_steps, 1, "log at least every step count >= 1")
        if isinstance(self.report_to, str) or not all(isinstance(r, str) and r for r in self.report_to):
            raise ConfigError(
                f"TrainConfig.report_to must be a tuple of tracker names; got {self.report_to!r}: "
                "use () or e.g. ('tensorboard',)"
            )
        if "none" in self.report_to or "all" in self.report_to:
            raise ConfigError(
                f"TrainConfig.report_to is {self.report_to!r}; name trackers explicitly, or use () for none"
            )

    @property
    def stages(self) -> tuple[str, ...]:
        """The training stages in order: ("dpo",), ("rft",) or ("rft", "dpo")."""
        return tuple(self.method.split("+"))


@dataclass(frozen=True)
class PromotionConfig:
    """When a trained policy replaces its parent.

    By default a candidate must solve at least as many of the compared held-out tasks as its parent
    (`min_net_gain=0`): a measured drop is never promoted, so a run cannot drift down one small loss at a time.
    With `min_net_gain=None` only McNemar's exact test on the paired per-task outcomes decides (one-sided: the
    candidate is rejected when the tasks it newly fails outnumber the ones it newly solves by more than chance
    allows at level `alpha`), which tolerates drops that are within noise.
    """

    alpha: float = 0.05
    """Significance level of the one-sided test for "the candidate is worse", in (0, 1)."""

    max_negative_flips: int | None = None
    """Also reject when more than this many tasks flip from solved to failed (None: no such cap; >= 0)."""

    min_tasks: int = 1
    """Fewest held-out tasks an evaluation needs before it can decide anything (>= 1)."""

    min_net_gain: int | None = 0
    """Reject unless newly solved minus newly failed tasks is at least this (0: not fewer solved than the parent;
    1: strictly more; None: no such gate, only the test)."""

    def __post_init__(self) -> None:
        number("PromotionConfig.alpha", self.alpha, lambda v: 0 < v < 1, "use a level in (0, 1), e.g. 0.05")
        if self.max_negative_flips is not None:
            int_at_least("PromotionConfig.max_negative_flips", self.max_negative_flips, 0, "use None for no cap")
        int_at_least("PromotionConfig.min_tasks", self.min_tasks, 1, "evaluate on at least one task")
        if self.min_net_gain is not None and (
            isinstance(self.min_net_gain, bool) or not isinstance(self.min_net_gain, int)
        ):
            raise ConfigError(
                f"PromotionConfig.min_net_gain must be a whole number of tasks or None; got {self.min_net_gain!r}: "
                "use 0 (not fewer solved than the parent) or None (only the noise test)"
            )


@dataclass(frozen=True)
class ScheduleConfig:
    """When the loop runs a training round: enough new data, or a clock."""

    min_new_pairs: int = 32
    """Due when the data since the current policy holds at least this many step pairs (>= 0; 0 disables)."""

    min_new_episodes: int = 16
    """Due when at least this many training episodes arrived since the current policy (>= 0; 0 disables)."""

    every_seconds: float | None = None
    """Also due when this many seconds passed since the current policy was made (> 0), or None."""

    def __post_init__(self) -> None:
        int_at_least("ScheduleConfig.min_new_pairs", self.min_new_pairs, 0, "use 0 to ignore pair counts")
        int_at_least("ScheduleConfig.min_new_episodes", self.min_new_episodes, 0, "use 0 to ignore episode counts")
        if self.every_seconds is not None:
            number("ScheduleConfig.every_seconds", self.every_seconds, lambda v: v > 0, "use seconds > 0 or None")
        if self.min_new_pairs == 0 and self.min_new_episodes == 0 and self.every_seconds is None:
            raise ConfigError(
                "ScheduleConfig has no trigger: min_new_pairs=0, min_new_episodes=0 and every_seconds=None; "
                "set at least one"
            )


def _micro_batch(prefix: str, batch: int, micro: int) -> None:
    int_at_least(f"{prefix}.micro_batch_size", micro, 1, "use 1 to feed one example at a time")
    if micro <= batch and batch % micro:  # a micro-batch above the batch is the batch (`stages.trl_arguments`)
        raise ConfigError(
            f"{prefix}.micro_batch_size ({micro}) must divide {prefix}.batch_size ({batch}); "
            f"use a divisor such as 1 or {batch}"
        )


def _learning_rate(name: str, value: object) -> None:
    number(name, value, lambda v: 0 < v < 1, "use e.g. 5e-5 for LoRA or 5e-6 for full fine-tuning")
