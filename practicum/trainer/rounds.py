"""One training round: the current policy, the data that arrived since it was made, a new candidate policy.

`run_round(store, config)`:
1. takes the policy to train (default: the promoted one) and checks its checkpoint: present, complete, and of
   the lineage's base model (a `CheckpointError` otherwise, before anything is recorded);
2. builds the datasets (`datasets.build_datasets`: new data plus the configured replay share), from one
   run's episodes when `data_run_id` is given (the practice loop passes its own run), else the whole store;
3. runs the stages `config.method` names (RFT, DPO, or RFT then DPO) with TRL, each from the previous one's
   model; a stage without enough data is skipped, and with no stage left the round is recorded as skipped
   with its reason (never an exception: the loop simply collects more and tries again);
4. registers the result as a `candidate` policy (parent, iteration, metrics, files) and records the round,
   the datasets it used and the pairs it trained on.

A crash inside training marks the round `failed` with the error before raising `TrainingError`, so the store
always says what happened. Promotion is a separate step (`evaluate.promote_if_not_worse`).
"""

from __future__ import annotations

import dataclasses
import errno
import logging
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import select

from practicum.errors import PracticumError
from practicum.provenance import git_revision, package_versions
from practicum.store import PairRecord, Store, queries
from practicum.store.models import Pair, PolicyRow
from practicum.trainer.checkpoints import check_checkpoint, model_signature, write_manifest
from practicum.trainer.config import TrainConfig
from practicum.trainer.datasets import Datasets, build_datasets
from practicum.trainer.dpo import train_dpo
from practicum.trainer.errors import TrainingError
from practicum.trainer.mining import PreferencePair
from practicum.trainer.rft import train_rft
from practicum.trainer.stages import StageResult

log = logging.getLogger(__name__)

RoundStatus = Literal["trained", "skipped", "failed"]


@dataclass(frozen=True)
class RoundResult:
    """How a round ended; `policy_out_id` is the new candidate policy when it trained."""

    status: RoundStatus
    policy_in_id: int
    round_id: int | None = None
    policy_out_id: int | None = None
    checkpoint: Path | None = None
    reason: str | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    datasets: Datasets | None = None


def register_base_policy(
    store: Store, model_dir: str | Path, *, name: str | None = None, run_id: int | None = None
) -> int:
    """The id of the iteration-0 policy for the model in `model_dir`, registering it on first use.

    Its `base_model` is `name` (default: the directory's name); its architecture signature is kept in its
    metrics, so later checkpoints of the lineage can be checked against it. It is promoted when the store has
    no promoted policy yet.
    """
    directory = check_checkpoint(model_dir, what=f"the base model {model_dir}").resolve()
    base = name or directory.name
    with store.session() as s:
        for policy in queries.list_policies(s):
            if policy.iteration == 0 and policy.checkpoint_path == str(directory) and policy.base_model == base:
                return policy.id
        promoted = queries.promoted_policy(s)
    return store.register_policy(
        name=_unique_name(store, base),
        base_model=base,
        checkpoint_path=str(directory),
        iteration=0,
        state="promoted" if promoted is None else "candidate",
        metrics={"signature": model_signature(directory)},
        run_id=run_id,
    )


def run_round(
    store: Store,
    config: TrainConfig | None = None,
    *,
    policy_id: int | None = None,
    run_id: int | None = None,
    data_run_id: int | None = None,
    output_root: str | Path = "checkpoints",
    through_episode_id: int | None = None,
    progress: bool = False,
    restart: int | None = None,
) -> RoundResult:
    """Train one round from `policy_id` (default: the promoted policy); see the module docstring.

    Files go to `output_root/round-<id>/`: `datasets/` (JSONL + spec), one folder per stage with `model/`
    (merged) and, under LoRA, `adapter/`. Without `run_id` a run is created for the round (as `practicum train`
    does). `data_run_id` keeps the datasets to that run's episodes (None: every run in the store); the filter
    is recorded in the round's data spec, so `rebuild_datasets` gives the same rows. Returns the round's
    result; raises `CheckpointError` for an unusable checkpoint and `TrainingError` when training itself
    crashed (the round is recorded as failed first). `restart` is the id of a round of `run_id` whose training
    a kill or a Ctrl-C cut short: it is trained again under that id, its partial folder replaced, so that a resumed run
    numbers its rounds and names its policies as an uninterrupted one does (the restart is counted in the
    round's metrics).
    """
    config = config or TrainConfig()
    policy, start, checkpoint = _policies(store, config, policy_id)
    if run_id is None:  # a round on its own, as `practicum train` runs it
        run_id = _new_run(store, config)
    data = build_datasets(
        store,
        policy_id=policy.id,
        settings=config.data,
        seed=config.seed,
        run_id=data_run_id,
        through_episode_id=through_episode_id,
    )
    stages, skipped = _plan(config, data)
    round_config = {
        "train": dataclasses.asdict(config),
        "data": data.spec,
        "datasets": {d.name: d.summary() for d in data.all()},
        "stages": list(stages),
        "skipped_stages": skipped,
        "start_policy_id": start.id,  # whose weights the round started from (`TrainConfig.start_from`)
    }
    if restart is None:
        round_id = store.start_training_round(
            run_id=run_id, recipe=config.method, policy_in_id=policy.id, config=round_config
        )
        kept: dict[str, Any] = {}
    else:
        round_id = restart
        kept = {"restarts": store.restart_training_round(round_id, config=round_config)}  # kept however it ends
        shutil.rmtree(round_folder(output_root, round_id), ignore_errors=True)  # the killed attempt's partial output
    if not stages:
        return _skip(store, round_id, policy.id, "; ".join(skipped.values()), data)
    out = round_folder(output_root, round_id)
    try:
        result = _train(start.id, checkpoint, stages, config, data, out, progress)
        metrics = {**result.metrics, "skipped_stages": skipped, "finished_at": datetime.now(UTC).isoformat(), **kept}
        policy_out_id = _register_candidate(store, policy, run_id, round_id, result, stages, data, metrics, out)
        if "dpo" in stages:
            store.mark_pairs_used(round_id, _pair_ids(store, data.pairs))
        store.finish_training_round(round_id, status="finished", policy_out_id=policy_out_id, metrics=metrics)
    except PracticumError as exc:
        store.finish_training_round(round_id, status="failed", metrics={"error": str(exc), **kept})
        raise
    except Exception as exc:
        store.finish_training_round(
            round_id, status="failed", metrics={"error": f"{type(exc).__name__}: {exc}", **kept}
        )
        raise _training_error(exc, round_id, output_root) from exc
    except KeyboardInterrupt:  # not left 'running': doctor would flag it and a resumed loop would wonder
        error = f"interrupted (Ctrl-C); its partial output is in {out}"
        store.finish_training_round(round_id, status="failed", metrics={"error": error, "interrupted": True, **kept})
        raise
    return RoundResult("trained", policy.id, round_id, policy_out_id, result.model_dir, None, metrics, data)


def _new_run(store: Store, config: TrainConfig) -> int:
    """A run for a round trained on its own (`practicum train`)."""
    return store.create_run(
        config={"train": dataclasses.asdict(config)},
        seeds={"train": config.seed},
        command="practicum train",
        versions=package_versions(),
        git_rev=git_revision(),
    )


def _skip(store: Store, round_id: int, policy_id: int, reason: str, data: Datasets) -> RoundResult:
    """Record round `round_id` as finished without training, for `reason`."""
    store.finish_training_round(round_id, status="finished", metrics={"skipped": True, "reason": reason})
    log.info("training round %s skipped: %s", round_id, reason)
    return RoundResult("skipped", policy_id, round_id, reason=reason, datasets=data)


def _policies(store: Store, config: TrainConfig, policy_id: int | None) -> tuple[PolicyRow, PolicyRow, Path]:
    """The round's parent policy (`policy_id`, default the promoted one), the policy whose weights it starts
    from (`TrainConfig.start_from`), and that policy's checked checkpoint."""
    with store.session() as s:
        policy = queries.get_policy(s, policy_id) if policy_id is not None else queries.promoted_policy(s)
    if policy is None:
        raise TrainingError(
            "the store has no promoted policy to train; register the base model first with "
            "practicum.trainer.rounds.register_base_policy(store, model_dir)"
        )
    start = _start_policy(store, policy) if config.start_from == "base" else policy
    checkpoint = check_checkpoint(
        start.checkpoint_path,
        what=f"policy {start.id} ({start.name})",
        base_model=start.base_model,
        signature=(start.metrics or {}).get("signature"),
    )
    return policy, start, checkpoint


def _register_candidate(
    store: Store,
    parent: PolicyRow,
    run_id: int,
    round_id: int,
    result: StageResult,
    stages: Sequence[str],
    data: Datasets,
    metrics: dict[str, Any],
    out: Path,
) -> int:
    """Write the trained model's manifest and register it as a candidate child of `parent` (its datasets in
    `out`); its id."""
    signature = model_signature(result.model_dir)
    adapter = str(result.adapter_dir) if result.adapter_dir else None
    write_manifest(
        result.model_dir,
        {
            "base_model": parent.base_model,
            "parent_policy": parent.name,
            "round_id": round_id,
            "stages": list(stages),
            "signature": signature,
            "datasets": {d.name: d.summary() for d in data.all()},
        },
    )
    return store.register_policy(
        name=_unique_name(store, f"{parent.base_model}-r{round_id}"),
        base_model=parent.base_model,
        checkpoint_path=str(result.model_dir.resolve()),
        parent_id=parent.id,
        iteration=parent.iteration + 1,
        state="candidate",
        run_id=run_id,
        metrics={
            **metrics,
            "signature": signature,
            "round_id": round_id,
            "adapter_path": adapter,
            "datasets_dir": str(out / "datasets"),
        },
    )


def _training_error(exc: Exception, round_id: int, output_root: str | Path) -> TrainingError:
    """The error a crashed round raises: what to do about a full disk, else what crashed."""
    if _disk_full(exc):
        return TrainingError(
            f"training round {round_id} could not save under {output_root}: no space left on device; free "
            "disk space there (or set checkpoint_dir to a larger disk); the current policy stays promoted"
        )
    return TrainingError(f"training round {round_id} failed: {type(exc).__name__}: {exc}")


def round_folder(output_root: str | Path, round_id: int) -> Path:
    """Where round `round_id` writes its stages, datasets and model under `output_root`."""
    return Path(output_root) / f"round-{round_id:05d}"


def _disk_full(exc: BaseException) -> bool:
    """Whether `exc` (or what caused it) is a full disk or quota; libraries such as safetensors wrap the OS error
    in their own exception type and keep only its text."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, OSError) and seen.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
            return True
        text = str(seen)
        if "No space left on device" in text or "Disk quota exceeded" in text:
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _start_policy(store: Store, policy: PolicyRow) -> PolicyRow:
    """The first policy of `policy`'s lineage (its oldest ancestor)."""
    with store.session() as s:
        return queries.lineage(s, policy)[-1]


def _plan(config: TrainConfig, data: Datasets) -> tuple[tuple[str, ...], dict[str, str]]:
    """The stages that have enough data, and why the others are skipped."""
    if not data.spec.get("new_episodes"):
        return (), {s: f"{s}: no new training episodes since the policy was made" for s in config.stages}
    run: list[str] = []
    skipped: dict[str, str] = {}
    for stage in config.stages:
        if stage == "rft" and len(data.rft) < config.data.min_rft_examples:
            skipped["rft"] = (
                f"rft: {len(data.rft)} example(s) from successful steps, fewer than "
                f"data.min_rft_examples={config.data.min_rft_examples}"
            )
        elif stage == "dpo" and len(data.pairs) < config.data.min_pairs:
            skipped["dpo"] = (
                f"dpo: {len(data.pairs)} pair(s) above the margin {config.data.step_margin}, fewer than "
                f"data.min_pairs={config.data.min_pairs}"
            )
        else:
            run.append(stage)
    return tuple(run), skipped


def _train(
    policy_id: int,
    checkpoint: Path,
    stages: tuple[str, ...],
    config: TrainConfig,
    data: Datasets,
    out: Path,
    progress: bool,
) -> StageResult:
    """Run the stages in order, each from the previous one's merged model; return the last stage's result."""
    data.save(out / "datasets")
    current = checkpoint
    results: list[StageResult] = []
    for stage in stages:
        if stage == "rft":
            result = train_rft(current, data.rft.rows, out / "rft", config, progress=progress)
        else:
            stage_config = config
            if results:
                # After RFT the reference is the RFT model (the usual SFT-then-DPO recipe): the stored log-probs
                # describe the policy before RFT, so they are not used for this stage.
                stage_config = dataclasses.replace(config, dpo=dataclasses.replace(config.dpo, reference="model"))
            result = train_dpo(current, data.pairs, out / "dpo", stage_config, policy_id=policy_id, progress=progress)
        results.append(result)
        current = result.model_dir
    final = results[-1]
    merged_metrics: dict[str, Any] = {}
    for r in results:
        merged_metrics.update(r.metrics)
    return dataclasses.replace(final, metrics=merged_metrics)


def _pair_ids(store: Store, pairs: tuple[PreferencePair, ...]) -> list[int]:
    """Store ids of `pairs`: existing rows for the same nodes or episodes are reused, the others are added."""
    ids: list[int] = []
    new: list[PairRecord] = []
    with store.session() as s:
        for p in pairs:
            query = select(Pair.id).where(Pair.kind == p.kind)
            if p.kind == "step":
                query = query.where(
                    Pair.episode_id == p.chosen.episode_id,
                    Pair.chosen_idx == p.chosen.idx,
                    Pair.rejected_idx == p.rejected.idx,
                )
            else:
                query = query.where(
                    Pair.chosen_episode_id == p.chosen.episode_id, Pair.rejected_episode_id == p.rejected.episode_id
                )
            found = s.scalar(query.order_by(Pair.id).limit(1))
            if found is not None:
                ids.append(int(found))
            else:
                new.append(_pair_record(p))
    return ids + store.add_pairs(new) if new else ids


def _pair_record(p: PreferencePair) -> PairRecord:
    step = p.kind == "step"
    return PairRecord(
        kind=p.kind,
        prompt=p.prompt,
        chosen=p.chosen.action,
        rejected=p.rejected.action,
        margin=p.margin,
        episode_id=p.chosen.episode_id if step else None,
        node_idx=p.node_idx,
        chosen_idx=p.chosen.idx,
        rejected_idx=p.rejected.idx,
        chosen_episode_id=None if step else p.chosen.episode_id,
        rejected_episode_id=None if step else p.rejected.episode_id,
        chosen_logprob=p.chosen.logprob,
        rejected_logprob=p.rejected.logprob,
        info={"task": p.task},
    )


def _unique_name(store: Store, wanted: str) -> str:
    with store.session() as s:
        taken = {p.name for p in queries.list_policies(s)}
    name, n = wanted, 2
    while name in taken:
        name, n = f"{wanted}-{n}", n + 1
    return name
