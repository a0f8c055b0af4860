"""Search throughput: node expansions per CPU-second, this MCTS against a naive Agent Q / LATS-style loop.

Both variants run the same search (`search_episode`, same `SearchConfig`, same tasks of a game suite, same
model weights) and differ only in how they call the model:

- batched (practicum): `LocalPolicy` scores all candidate actions of a node in one forward pass that reuses
  the prompt's key/value cache, and `ModelCritic` asks its Yes/No question about every candidate in one
  batched forward pass over the same shared prefix;
- naive (the public Agent Q and LATS code): every candidate gets its own full forward pass over prompt +
  candidate, and the critic generates free text (a ranking of the candidates) that is then parsed.

The variants alternate task by task in one process, so load from other processes hits both alike; torch runs
on one thread by default, so that CPU-seconds measure work rather than the spinning of threads that wait for
a core on a busy machine. Written to benchmarks/results/search.json:

- `expansions_per_cpu_s.batched` / `.naive`: tree nodes created by executing an action, per CPU-second of the
  process (`time.process_time`, all threads);
- `speedup_vs_naive`: their ratio;
- `model_time_share`: the share of the batched search's wall time spent inside policy and critic calls
  (`model_time_share_naive` likewise).

    .venv/bin/python benchmarks/search_bench.py [--suites tictactoe connect4] [--seeds 0 1] [--max-steps 6]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

import torch

from practicum.agents import prompts
from practicum.agents.base import Candidate, Critic, Critique, Policy, Proposal, StepContext
from practicum.agents.candidates import top_k
from practicum.agents.critic import ModelCritic
from practicum.agents.local import LocalModel, LocalPolicy
from practicum.envs.registry import get_suite
from practicum.search import EpisodeTree, SearchConfig, search_episode

RESULTS = Path(__file__).resolve().parent / "results" / "search.json"

NAIVE_CRITIC_TOKENS = 40  # a ranking and a short reason: the budget ModelCritic uses for its rationale
NAIVE_LABELS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"  # the naive critic's option letters


def ranking_messages(context: StepContext, actions: Sequence[str]) -> list[prompts.Message]:
    """The naive critic's prompt (Agent Q / LATS style): the situation, the candidates lettered A, B, C..., and
    a request to rank them in free text."""
    if not 1 <= len(actions) <= len(NAIVE_LABELS):
        raise ValueError(f"the naive critic ranks 1 to {len(NAIVE_LABELS)} actions, got {len(actions)}")
    # The situation is the policy's request without its last paragraph (what to reply with).
    situation = prompts.policy_messages(context)[-1]["content"].rsplit("\n\n", 1)[0]
    options = "\n".join(f"{label}. {action}" for label, action in zip(NAIVE_LABELS, actions, strict=False))
    return [
        {"role": "system", "content": prompts.CRITIC_SYSTEM},
        {
            "role": "user",
            "content": f"{situation}\n\nCandidate next actions:\n{options}\n\n"
            "Rank all candidates from best to worst by their letters (e.g. B, A, C), then give a short reason.",
        },
    ]


class NaivePolicy(Policy):
    """Scores each candidate with its own full forward pass over prompt + candidate (no shared prefix)."""

    def __init__(self, model: LocalModel) -> None:
        self.model = model
        self.name = f"{model.name}:naive"

    def score(self, context: StepContext, actions: Sequence[str]) -> Proposal:
        """One full forward pass over prompt + action per action."""
        started = time.perf_counter()
        prompt = self.model.render(prompts.policy_messages(context))
        prompt_ids = self.model.encode(prompt)
        logprobs, completion_tokens = [], 0
        for action in actions:
            cand = self.model.completion_ids(action)
            completion_tokens += len(cand)
            logprobs.append(self._full_pass(prompt_ids, cand))
        return Proposal(
            prompt=prompt,
            candidates=[Candidate(a, lp) for a, lp in zip(actions, logprobs, strict=True)],
            prompt_tokens=len(prompt_ids) * len(actions),  # the prompt is processed once per action
            completion_tokens=completion_tokens,
            seconds=time.perf_counter() - started,
            prompt_version=prompts.PROMPT_VERSION,
        )

    @torch.inference_mode()
    def _full_pass(self, prompt_ids: list[int], cand: list[int]) -> float:
        # The whole sequence goes through the model; only the completion's positions get a log-softmax (the
        # cheapest way to read them from a full pass, so the baseline is not slowed by avoidable work).
        ids = torch.tensor([prompt_ids + cand], device=self.model.device)
        logits = self.model.model(input_ids=ids).logits[0, len(prompt_ids) - 1 : -1].float()  # [len(cand), vocab]
        logp = torch.log_softmax(logits, dim=-1)
        return float(logp.gather(-1, ids[0, len(prompt_ids) :, None]).sum())

    def propose(self, context: StepContext, k: int, *, temperature: float = 1.0, seed: int | None = None) -> Proposal:
        """The top-k legal actions, each scored by its own pass (free text: k separate generations)."""
        if context.legal_actions is not None:
            return top_k(self.score(context, list(dict.fromkeys(context.legal_actions))), k)
        prompt = self.model.render(prompts.policy_messages(context))
        texts: list[str] = []
        for i in range(k):  # one generation per candidate, each with its own prefill
            sample = self.model.sample(prompt, 1, temperature=temperature, seed=(seed or 0) + i)[0]
            text = prompts.clean_action(sample.text)
            if text and text not in texts:
                texts.append(text)
        return self.score(context, texts)


class NaiveCritic(Critic):
    """Asks the model to rank the candidates in free text, generates the answer, and parses the letters."""

    def __init__(self, model: LocalModel) -> None:
        self.model = model

    def critique(self, context: StepContext, actions: Sequence[str], *, rationale: bool = False) -> Critique:
        """Rank by generation: best letter first scores 1, the last 0; an unreadable reply scores 0.5 each."""
        actions = list(actions)
        prompt = self.model.render(ranking_messages(context, actions))
        sample = self.model.sample(prompt, 1, temperature=0.0, max_new_tokens=NAIVE_CRITIC_TOKENS)[0]
        labels = list(NAIVE_LABELS[: len(actions)])
        order = [m for m in dict.fromkeys(re.findall(r"\b([A-Z])\b", sample.text)) if m in labels]
        parsed = bool(order)
        if parsed:
            ranked = order + [lb for lb in labels if lb not in order]
            denominator = max(len(labels) - 1, 1)
            scores = [1.0 - ranked.index(lb) / denominator for lb in labels]
        else:
            scores = [0.5] * len(actions)
        return Critique(
            prompt=prompt,
            actions=actions,
            scores=scores,
            rationale=sample.text if rationale else None,
            parsed=parsed,
            prompt_tokens=len(self.model.encode(prompt)),
            completion_tokens=sample.tokens,
        )


class CpuTimedPolicy(Policy):
    """Counts the CPU-seconds and calls of a policy's proposals (to split model time into policy and critic)."""

    def __init__(self, inner: Policy) -> None:
        self.inner = inner
        self.name = inner.name
        self.cpu_s = 0.0
        self.calls = 0

    def propose(self, context: StepContext, k: int, *, temperature: float = 1.0, seed: int | None = None) -> Proposal:
        """The inner policy's proposal, timed."""
        start = time.process_time()
        try:
            return self.inner.propose(context, k, temperature=temperature, seed=seed)
        finally:
            self.cpu_s += time.process_time() - start
            self.calls += 1

    def score(self, context: StepContext, actions: Sequence[str]) -> Proposal:
        """The inner policy's scores, timed."""
        start = time.process_time()
        try:
            return self.inner.score(context, actions)
        finally:
            self.cpu_s += time.process_time() - start
            self.calls += 1


class CpuTimedCritic(Critic):
    """Counts the CPU-seconds and calls of a critic."""

    def __init__(self, inner: Critic) -> None:
        self.inner = inner
        self.cpu_s = 0.0
        self.calls = 0

    def critique(self, context: StepContext, actions: Sequence[str], *, rationale: bool = False) -> Critique:
        """The inner critic's verdict, timed."""
        start = time.process_time()
        try:
            return self.inner.critique(context, actions, rationale=rationale)
        finally:
            self.cpu_s += time.process_time() - start
            self.calls += 1


def run_variant(
    policy: Policy, critic: Critic, suite: str, seed: int, config: SearchConfig, env_kwargs: dict[str, Any]
) -> dict[str, Any]:
    """One searched episode; its expansions, CPU and wall seconds, model seconds (split by policy and critic)."""
    s = get_suite(suite)
    env = s.env(**env_kwargs)
    timed_policy, timed_critic = CpuTimedPolicy(policy), CpuTimedCritic(critic)
    cpu = time.process_time()
    try:
        tree: EpisodeTree = search_episode(env, timed_policy, timed_critic, config, task=s.task(seed))
    finally:
        env.close()
    return {
        "suite": suite,
        "seed": seed,
        "expansions": tree.expansions,
        "cpu_s": time.process_time() - cpu,
        "wall_s": tree.wall_seconds,
        "model_s": tree.model_seconds,
        "model_calls": tree.model_calls,
        "policy_calls": timed_policy.calls,
        "policy_cpu_s": timed_policy.cpu_s,
        "critic_calls": timed_critic.calls,
        "critic_cpu_s": timed_critic.cpu_s,
        "steps": tree.steps,
        "nodes": len(tree.nodes),
        "success": tree.success,
        "critic_failures": tree.critic_failures,
    }


def totals(rows: list[dict[str, Any]]) -> dict[str, float]:
    """Summed counts and the derived rates of a variant's episodes."""
    expansions = sum(r["expansions"] for r in rows)
    cpu = sum(r["cpu_s"] for r in rows)
    wall = sum(r["wall_s"] for r in rows)
    model = sum(r["model_s"] for r in rows)
    return {
        "expansions": expansions,
        "policy_calls": sum(r["policy_calls"] for r in rows),
        "policy_cpu_s": round(sum(r["policy_cpu_s"] for r in rows), 2),
        "critic_calls": sum(r["critic_calls"] for r in rows),
        "critic_cpu_s": round(sum(r["critic_cpu_s"] for r in rows), 2),
        "cpu_s": round(cpu, 2),
        "wall_s": round(wall, 2),
        "model_s": round(model, 2),
        "expansions_per_cpu_s": expansions / cpu if cpu else 0.0,
        "expansions_per_wall_s": expansions / wall if wall else 0.0,
        "model_time_share": model / wall if wall else 0.0,
    }


def comparison(batched_rows: list[dict[str, Any]], naive_rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The headline numbers for two sets of episodes, with their totals."""
    batched, naive = totals(batched_rows), totals(naive_rows)
    return {
        "speedup_vs_naive": round(batched["expansions_per_cpu_s"] / naive["expansions_per_cpu_s"], 2),
        "expansions_per_cpu_s.batched": round(batched["expansions_per_cpu_s"], 3),
        "expansions_per_cpu_s.naive": round(naive["expansions_per_cpu_s"], 3),
        "model_time_share": round(batched["model_time_share"], 3),
        "model_time_share_naive": round(naive["model_time_share"], 3),
        "totals": {"batched": batched, "naive": naive},
    }


def main(argv: list[str] | None = None) -> int:
    """Run both variants side by side and write the JSON results."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--suites", nargs="+", default=["tictactoe"], help="the first one gives the headline keys")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--max-steps", type=int, default=None, help="episode step limit (default: the suite's)")
    parser.add_argument("--simulations", type=int, default=4)
    parser.add_argument("--k", type=int, default=3)
    parser.add_argument("--evaluation", default="rollout", choices=["rollout", "reward", "critic"])
    parser.add_argument("--rollout-depth", type=int, default=2)
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch threads (default 1: CPU-seconds then count work, not the spin-waiting of idle threads on a "
        "busy machine)",
    )
    parser.add_argument("--model-dir", type=Path, default=None, help="default: the built-in SmolLM2-135M-Instruct")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)

    torch.set_num_threads(args.threads)
    if args.model_dir is None:
        from practicum.agents.default import default_model_dir

        args.model_dir = default_model_dir()
    model = LocalModel(args.model_dir, device="cpu")
    config = SearchConfig(
        simulations=args.simulations, k=args.k, evaluation=args.evaluation, rollout_depth=args.rollout_depth
    )
    env_kwargs = {} if args.max_steps is None else {"max_steps": args.max_steps}
    variants: dict[str, tuple[Policy, Critic]] = {
        "batched": (LocalPolicy(model), ModelCritic(model)),
        "naive": (NaivePolicy(model), NaiveCritic(model)),
    }
    load_before = os.getloadavg()
    rows: dict[str, dict[str, list[dict[str, Any]]]] = {suite: {v: [] for v in variants} for suite in args.suites}
    for suite in args.suites:
        for seed in args.seeds:  # alternate the variants task by task
            for name, (policy, critic) in variants.items():
                row = run_variant(policy, critic, suite, seed, config, env_kwargs)
                rows[suite][name].append(row)
                print(f"{name:8s} {suite} seed {seed}: {json.dumps(row)}", flush=True)
    by_suite = {suite: comparison(r["batched"], r["naive"]) for suite, r in rows.items()}
    headline = args.suites[0]
    result = {
        **{k: v for k, v in by_suite[headline].items() if k != "totals"},
        "suite": headline,
        "by_suite": by_suite,
        "episodes": rows,
        "setup": {
            "suites": args.suites,
            "seeds": args.seeds,
            "env_kwargs": env_kwargs,
            "search_config": asdict(config),
            "naive_critic_tokens": NAIVE_CRITIC_TOKENS,
            "model": model.name,
            "dtype": str(model.dtype),
            "torch": torch.__version__,
            "torch_threads": torch.get_num_threads(),
            "cpu_count": os.cpu_count(),
            "machine": platform.machine(),
            "load_average_before": [round(x, 2) for x in load_before],
            "load_average_after": [round(x, 2) for x in os.getloadavg()],
            "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        },
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: v for k, v in result.items() if not isinstance(v, dict)}, indent=2))
    for suite, numbers in by_suite.items():
        print(f"{suite}: speedup {numbers['speedup_vs_naive']}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
