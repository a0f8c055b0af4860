"""benchmarks/search_bench.py: the naive baseline computes the same policy numbers, and the script reports."""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType

import pytest
import torch

from practicum.agents.base import StepContext
from practicum.agents.local import LocalModel, LocalPolicy
from practicum.envs.registry import get_suite
from tests.benchmarks import load_benchmark


def load_bench() -> ModuleType:
    return load_benchmark("search_bench")


def tictactoe_context() -> StepContext:
    suite = get_suite("tictactoe")
    env = suite.env()
    obs, info = env.reset(options={"task": suite.task(0)})
    env.close()
    return StepContext(goal=info["goal"], observation=obs, legal_actions=tuple(info["legal_actions"]))


def test_naive_policy_ranks_like_the_batched_one(tiny_lm: LocalModel) -> None:
    bench = load_bench()
    context = tictactoe_context()
    batched = LocalPolicy(tiny_lm).propose(context, 4)
    naive = bench.NaivePolicy(tiny_lm).propose(context, 4)
    assert [c.text for c in naive.candidates] == [c.text for c in batched.candidates]
    for a, b in zip(naive.candidates, batched.candidates, strict=True):
        assert a.logprob == pytest.approx(b.logprob, abs=1e-3)
    assert naive.prompt == batched.prompt


def test_naive_critic_reads_a_ranking_from_generated_text(tiny_lm: LocalModel) -> None:
    bench = load_bench()
    critic = bench.NaiveCritic(tiny_lm)
    verdict = critic.critique(tictactoe_context(), ["b2", "a1", "c3"], rationale=True)
    assert len(verdict.scores) == 3 and all(0.0 <= s <= 1.0 for s in verdict.scores)
    assert verdict.completion_tokens > 0 and verdict.rationale is not None
    # Its own lettered ranking prompt: the situation as the policy sees it, then the candidates A, B, C.
    assert "Candidate next actions:\nA. b2\nB. a1\nC. c3\n\nRank all candidates" in verdict.prompt
    assert "Your turn (X)." in verdict.prompt
    if verdict.parsed:  # a ranking: best 1.0, worst 0.0, evenly spaced
        assert sorted(verdict.scores) == [0.0, 0.5, 1.0]
    else:
        assert verdict.scores == [0.5, 0.5, 0.5]


def test_bench_runs_both_variants_and_writes_the_report(tiny_model_dir: Path, tmp_path: Path) -> None:
    bench = load_bench()
    out = tmp_path / "search.json"
    args = ["--model-dir", str(tiny_model_dir), "--seeds", "0", "--simulations", "2", "--rollout-depth", "1"]
    args += ["--suites", "tictactoe", "connect4", "--max-steps", "2"]
    args += ["--threads", str(torch.get_num_threads())]  # keep this process's setting for the other tests
    assert bench.main([*args, "--out", str(out)]) == 0
    data = json.loads(out.read_text())
    assert data["expansions_per_cpu_s.batched"] > 0 and data["expansions_per_cpu_s.naive"] > 0
    ratio = data["expansions_per_cpu_s.batched"] / data["expansions_per_cpu_s.naive"]
    assert data["speedup_vs_naive"] == pytest.approx(ratio, rel=0.01)
    assert 0 < data["model_time_share"] <= 1
    assert data["suite"] == "tictactoe" and set(data["by_suite"]) == {"tictactoe", "connect4"}
    assert data["speedup_vs_naive"] == data["by_suite"]["tictactoe"]["speedup_vs_naive"]
    for variants in data["episodes"].values():
        assert len(variants["naive"]) == 1 and variants["naive"][0]["steps"] <= 2
        assert variants["batched"][0]["policy_calls"] > 0
