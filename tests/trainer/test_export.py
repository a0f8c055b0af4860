"""Exporting a trained policy: a self-contained folder that loads in a fresh process without practicum (the merged
model, the adapter on the base it names, every round's datasets) with Hub cards: evals, lineage, rounds, prompts."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import select

from practicum.agents.default import MARKER
from practicum.agents.local import LocalModel
from practicum.errors import ConfigError
from practicum.store import Store, open_store, queries
from practicum.store.models import NodeRow, PolicyRow
from practicum.trainer.config import DataSettings, DPOSettings, RFTSettings, TrainConfig
from practicum.trainer.errors import CheckpointError
from practicum.trainer.evaluate import evaluate_policy
from practicum.trainer.export import export_policy, model_card, model_origin
from practicum.trainer.rounds import run_round
from tests.trainer.conftest import Collected
from tests.trainer.helpers import greedy_runner, path_task

# Scores completions exactly like `LocalModel.score` (prompt, then completion + EOS), with nothing but
# transformers, and generates a few tokens: what a user of the exported directory would do.
FRESH_PROCESS = r"""
import json, sys, torch
from transformers import AutoModelForCausalLM, AutoTokenizer
path, prompt, completions = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
tok = AutoTokenizer.from_pretrained(path)
model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval()
prompt_ids = tok(prompt, add_special_tokens=False)["input_ids"]
out = []
with torch.no_grad():
    for c in completions:
        ids = prompt_ids + tok(c, add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
        logp = torch.log_softmax(model(input_ids=torch.tensor([ids])).logits[0].float(), -1)
        out.append(sum(float(logp[i - 1, ids[i]]) for i in range(len(prompt_ids), len(ids))))
    generated = model.generate(torch.tensor([prompt_ids]), max_new_tokens=4, do_sample=False)
print(json.dumps({"logprobs": out, "generated": generated.shape[1] - len(prompt_ids)}))
"""


# What a user does with the export folder on another machine, with nothing of practicum installed: the merged
# model, the adapter on the base its config names (a path relative to the export folder, the working directory
# here), and every dataset file through `datasets.load_dataset`.
ROUND_TRIP = r"""
import glob, json, sys, torch
import datasets
from peft import AutoPeftModelForCausalLM
from transformers import AutoModelForCausalLM, AutoTokenizer
prompt = sys.argv[1]
tok = AutoTokenizer.from_pretrained("model")
ids = torch.tensor([tok(prompt, add_special_tokens=False)["input_ids"]])
with torch.no_grad():
    merged = AutoModelForCausalLM.from_pretrained("model", dtype=torch.float32).eval()(ids).logits
    with_adapter = AutoPeftModelForCausalLM.from_pretrained("adapter", dtype=torch.float32).eval()(ids).logits
    base_name = json.load(open("adapter/adapter_config.json"))["base_model_name_or_path"]
    base = AutoModelForCausalLM.from_pretrained(base_name, dtype=torch.float32).eval()(ids).logits
rows = {
    path: datasets.load_dataset("json", data_files=path, split="train").num_rows
    for path in sorted(glob.glob("data/round-*/*.jsonl"))
}
print(json.dumps({
    "practicum_imported": any(name.split(".")[0] == "practicum" for name in sys.modules),
    "base": base_name,
    "adapter_vs_merged": float((with_adapter - merged).abs().max()),
    "base_vs_merged": float((base - merged).abs().max()),
    "rows": rows,
}))
"""


def _front_matter(text: str) -> dict[str, Any]:
    assert text.startswith("---\n"), text[:80]
    return dict(yaml.safe_load(text[4:].split("\n---\n", 1)[0]))


def test_exported_policy_reloads_in_a_fresh_process_with_the_same_logprobs(store: Store, tmp_path: Path) -> None:
    # Two rounds, the last one RFT then DPO: its adapter applies to the round's RFT model, not to the parent.
    config = TrainConfig(
        method="rft+dpo",
        dpo=DPOSettings(learning_rate=1e-3, max_steps=3, batch_size=4),
        rft=RFTSettings(learning_rate=1e-3, max_steps=2, batch_size=4),
        data=DataSettings(aggregate=True),  # the second round trains on all data so far, nothing new needed
    )
    first = run_round(store, config, output_root=tmp_path / "rounds")
    trained = run_round(store, config, policy_id=first.policy_out_id, output_root=tmp_path / "rounds")
    policy_id = trained.policy_out_id
    assert first.status == trained.status == "trained" and policy_id is not None and trained.datasets is not None
    evaluate_policy(store, policy_id, [path_task(s) for s in (100, 101, 102)], greedy_runner())

    export = export_policy(store, policy_id, tmp_path / "export")
    assert export.adapter_dir == tmp_path / "export" / "adapter" and export.base_dir == tmp_path / "export" / "base"

    pair = trained.datasets.step_pairs.rows[0]
    prompt, completions = str(pair.prompt), [pair.chosen.action, pair.rejected.action]
    in_process = LocalModel(trained.checkpoint, device="cpu").score(prompt, completions).logprobs  # type: ignore[arg-type]
    # Another machine: the export alone, somewhere else; the store's checkpoints are gone.
    (tmp_path / "rounds").rename(tmp_path / "rounds-gone")
    moved = tmp_path / "elsewhere" / "export"
    moved.parent.mkdir()
    (tmp_path / "export").rename(moved)
    run = subprocess.run(
        [sys.executable, "-c", FRESH_PROCESS, str(moved / "model"), prompt, json.dumps(completions)],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    fresh = json.loads(run.stdout.strip().splitlines()[-1])
    # float32 sums over a whole prompt differ in their last digits between a batched, padded pass and a plain
    # one (seen once in a full run: -26.2271 against -26.2253): a relative bound, as for any float32 total.
    assert fresh["logprobs"] == pytest.approx(in_process, rel=1e-4, abs=1e-4)
    assert fresh["generated"] >= 1

    env = {**os.environ, "HF_DATASETS_CACHE": str(tmp_path / "hf-datasets")}
    run = subprocess.run(
        [sys.executable, "-c", ROUND_TRIP, prompt], cwd=moved, env=env, capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 0, run.stderr[-3000:]
    trip = json.loads(run.stdout.strip().splitlines()[-1])
    assert trip["practicum_imported"] is False
    assert trip["base"] == "base"  # a folder of the export, not a path on the machine that trained it
    assert trip["adapter_vs_merged"] < 1e-4  # the adapter on its stated base is the merged model
    assert trip["base_vs_merged"] > 1e-3  # and the adapter is not a no-op
    # Every round of the lineage, each kind with rows, one loadable file each; no empty file anywhere.
    rounds = {first.round_id, trained.round_id}
    expected = {
        f"data/round-{r.round_id}/{d.name}.jsonl": len(d)
        for r in (first, trained)
        for d in r.datasets.all()  # type: ignore[union-attr]
        if len(d)
    }
    assert trip["rows"] == expected and {int(p.split("/")[1][len("round-") :]) for p in expected} == rounds
    assert all(f.stat().st_size > 0 for f in moved.rglob("*") if f.is_file() and f.suffix == ".jsonl")
    empty = [(r.round_id, d.name) for r in (first, trained) for d in r.datasets.all() if not len(d)]  # type: ignore[union-attr]

    data_card = (moved / "data" / "README.md").read_text()
    configs = _front_matter(data_card)["configs"]
    assert {c["data_files"] for c in configs} == {p[len("data/") :] for p in expected}
    for round_id, kind in empty:
        assert f"round {round_id} `{kind}`" in data_card.split("Left out because they have no rows")[1]

    card = (moved / "model" / "README.md").read_text()
    front = _front_matter(card)
    assert front["pipeline_tag"] == "text-generation" and front["library_name"] == "transformers"
    assert front["license"] == "other" and "base_model" not in front  # the tiny test model has no hub id
    assert {"practicum", "rft+dpo", "lora", "path"} <= set(front["tags"])  # "path": the task suite
    assert "| path | test | greedy | 3 |" in card.split("## Results on the test split")[1]  # its evaluation
    with store.session() as s:
        policy = queries.get_policy(s, policy_id)
        parent = queries.get_policy(s, policy.parent_id)  # type: ignore[arg-type]
        example = s.scalars(
            select(NodeRow.prompt).where(NodeRow.prompt.is_not(None)).order_by(NodeRow.episode_id)
        ).first()
    assert f"| {policy.name} | {policy.id} | 2 | candidate | {parent.id} |" in card  # lineage
    assert f"| {parent.name} | {parent.id} | 1 |" in card
    assert f"| {trained.round_id} | rft+dpo | {parent.id} -> {policy.id} | finished |" in card  # its round
    assert "| rft 2, dpo 3 |" in card and "dpo loss" in card  # its steps and result
    assert "## Prompt format" in card and str(example).rstrip("\n") in card  # a real prompt, verbatim
    assert "the RFT stage of the same round" in card  # which base the adapter applies to

    adapter_card = (moved / "adapter" / "README.md").read_text()
    assert _front_matter(adapter_card)["library_name"] == "peft"
    assert "More Information Needed" not in adapter_card  # not peft's empty template
    assert {p.name for p in (moved / "model").iterdir()} >= {
        "config.json",
        "model.safetensors",
        "generation_config.json",
        "tokenizer.json",
        "README.md",
    }


def test_the_card_names_the_hub_model_and_license_the_lineage_started_from(tmp_path: Path) -> None:
    default = tmp_path / "cache" / "smollm2-135m-instruct"  # the converted default model, with its marker
    default.mkdir(parents=True)
    (default / MARKER).write_text("{}")
    (default / "config.json").write_text("{}")
    origin = model_origin(default)
    assert (origin.hub_id, origin.license) == ("HuggingFaceTB/SmolLM2-135M-Instruct", "apache-2.0")
    assert "Q4_1" in origin.text and "warm-up" not in origin.text
    warmed = tmp_path / "format-frozenlake-4x4-abc" / "model"  # the format warm-up of it, as practice makes it
    warmed.mkdir(parents=True)
    (warmed.parent / "warmup.json").write_text(json.dumps({"base": str(default)}))
    origin = model_origin(warmed)
    assert origin.hub_id == "HuggingFaceTB/SmolLM2-135M-Instruct" and "warm-up" in origin.text
    card = model_card(PolicyRow(id=1, name="p", iteration=0, state="promoted", metrics={}), [], [], [], origin=origin)
    front = _front_matter(card)
    assert front["base_model"] == "HuggingFaceTB/SmolLM2-135M-Instruct" and front["license"] == "apache-2.0"

    user = tmp_path / "mine"  # a user's model folder downloaded from the hub, with its card
    user.mkdir()
    (user / "config.json").write_text(json.dumps({"_name_or_path": "someone/tiny-chat"}))
    (user / "README.md").write_text("---\nlicense: mit\n---\n# tiny chat\n")
    origin = model_origin(user)
    assert (origin.hub_id, origin.license) == ("someone/tiny-chat", "mit")
    (user / "README.md").unlink()
    (user / "config.json").write_text("{}")
    origin = model_origin(user)
    assert (origin.hub_id, origin.license) == (None, "other") and "license unknown" in origin.text


def test_a_store_moved_with_its_folder_still_exports(collected: Collected, tmp_path: Path) -> None:
    folder = tmp_path / "project"
    folder.mkdir()
    shutil.copy(collected.db, folder / "store.db")
    # No trajectory pairs: that kind has no rows, so the export leaves its file out and its card says so.
    config = TrainConfig(
        dpo=DPOSettings(learning_rate=1e-3, max_steps=1, batch_size=4), data=DataSettings(trajectory_pairs=False)
    )
    with open_store(f"sqlite:///{folder / 'store.db'}") as store:
        policy_id = run_round(store, config, output_root=folder / "practicum-checkpoints").policy_out_id
    moved = tmp_path / "moved"
    folder.rename(moved)
    with open_store(f"sqlite:///{moved / 'store.db'}") as store:
        export = export_policy(store, policy_id, tmp_path / "export")  # type: ignore[arg-type]
        with store.session() as s:
            assert queries.get_policy(s, policy_id).checkpoint_path.startswith(str(moved))  # type: ignore[arg-type,union-attr]
    assert (export.model_dir / "model.safetensors").is_file()
    assert export.adapter_dir is not None and (export.adapter_dir / "adapter_config.json").is_file()
    assert export.datasets_dir is not None
    files = {p.name for p in export.datasets_dir.rglob("*.jsonl")}
    assert files == {"step_pairs.jsonl", "rft.jsonl"}  # no empty trajectory_pairs.jsonl
    card = (export.datasets_dir / "README.md").read_text()
    assert "Left out because they have no rows (an empty file does not load): round 1 `trajectory_pairs`." in card


def test_export_refuses_a_non_empty_directory_and_a_missing_checkpoint(store: Store, tmp_path: Path) -> None:
    with store.session() as s:
        base = queries.promoted_policy(s)
    assert base is not None
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "file").write_text("x")
    with pytest.raises(ConfigError, match="is not empty; choose a new directory or pass overwrite=True"):
        export_policy(store, base.id, tmp_path / "taken")
    gone = store.register_policy(name="gone", base_model=base.base_model, checkpoint_path=str(tmp_path / "gone"))
    with pytest.raises(CheckpointError, match="does not exist"):
        export_policy(store, gone, tmp_path / "out")
    export = export_policy(store, base.id, tmp_path / "base")  # a base policy exports too: no adapter, no data
    assert export.adapter_dir is None and export.datasets_dir is None
    assert "None: this is a base policy." in export.card.read_text()
    assert json.loads((export.model_dir / "config.json").read_text())["model_type"] == "llama"
