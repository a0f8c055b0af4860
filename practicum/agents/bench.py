"""Micro-benchmarks of what one search node costs on a local model: scoring, sampling, critique.

`scoring_benchmark` times batched prefix-cached scoring against one full pass per candidate, side by side in
one run (alternating, so load from other processes hits both alike), and checks they agree. `node_benchmark`
times the calls MCTS makes per node. `python -m practicum.agents.bench --out FILE` runs both on the default
model (or `--model-dir`) and writes JSON; benchmark scripts and the search benchmark can call the functions.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch

from practicum.agents.base import StepContext
from practicum.agents.critic import ModelCritic
from practicum.agents.local import DTypeName, LocalModel, LocalPolicy

# Realistic actions of different lengths (a web page's elements), about 8 tokens each on SmolLM2.
ACTIONS = (
    "click[Buy Now]",
    "click[Next >]",
    "click[< Prev]",
    "click[Back to Search]",
    "search[red running shoes size 9]",
    "click[men's trail runner, blue]",
    "click[Description]",
    "click[Features and Reviews]",
    "click[women's slip-on sneaker]",
    "click[size 10]",
    "click[color: black]",
    "click[Attributes]",
)
_FILLER = (
    "[item] Men's trail running shoe, breathable mesh, rubber outsole, $45.99, rating 4.3 of 5. "
    "[item] Women's slip-on sneaker, memory foam insole, machine washable, $29.50, rating 4.1 of 5. "
)


def node_context(model: LocalModel, *, prompt_tokens: int, k: int, variant: int = 0) -> StepContext:
    """A shop-like step context whose policy prompt is about `prompt_tokens` long, with `k` legal actions.

    Different `variant`s differ right after the goal, as two nodes of one episode do.
    """
    actions = tuple(ACTIONS[i % len(ACTIONS)] + ("" if i < len(ACTIONS) else f" #{i}") for i in range(k))
    goal = "Buy men's trail running shoes in size 9, under $50."
    body = f"Results page {variant + 1}:\n"
    while True:
        listed = "\n".join(f"{i}. {a}" for i, a in enumerate(actions, 1))
        context = StepContext(
            goal=goal,
            observation=f"Goal: {goal}\n\n{body}\n\nLegal actions:\n{listed}",
            history=("search[trail running shoes]",),
            legal_actions=actions,
        )
        if len(model.encode(LocalPolicy(model).prompt(context))) >= prompt_tokens or len(body) > 100_000:
            return context
        body += _FILLER


def _timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = fn()
    return time.perf_counter() - started, result


def scoring_benchmark(model: LocalModel, *, k: int = 8, prompt_tokens: int = 338, repeats: int = 3) -> dict[str, Any]:
    """Batched prefix-cached scoring vs one full forward pass per candidate, measured side by side."""
    context = node_context(model, prompt_tokens=prompt_tokens, k=k)
    prompt = LocalPolicy(model).prompt(context)
    actions: Sequence[str] = context.legal_actions or ()
    model.score(prompt, actions)  # warm-up: first calls pay for allocations and kernel selection
    batched, naive, diffs = [], [], []
    for _ in range(repeats):
        model.clear_prefix_cache()  # time the whole prompt: a repeated prompt would otherwise be free
        t_batched, fast = _timed(lambda: model.score(prompt, actions))
        t_naive, slow = _timed(lambda: model.score_naive(prompt, actions))
        batched.append(t_batched)
        naive.append(t_naive)
        diffs.append(max(abs(a - b) for a, b in zip(fast.logprobs, slow.logprobs, strict=True)))
    return {
        "k": k,
        "prompt_tokens": len(model.encode(prompt)),
        "candidate_tokens": [len(model.completion_ids(a)) for a in actions],
        "repeats": repeats,
        "batched_s": batched,
        "naive_s": naive,
        "batched_median_s": statistics.median(batched),
        "naive_median_s": statistics.median(naive),
        "speedup_median": statistics.median(n / b for n, b in zip(naive, batched, strict=True)),
        "max_abs_logprob_diff": max(diffs),
    }


def node_benchmark(
    model: LocalModel, *, k: int = 5, prompt_tokens: int = 338, repeats: int = 3, max_new_tokens: int = 16
) -> dict[str, Any]:
    """Median seconds of the calls search makes at one node, each node a fresh observation.

    `critique_after_propose` is what search pays (the critic reuses the policy prompt's shared prefix);
    `critique_cold` is the same critique with nothing to reuse, for comparison.
    """
    policy = LocalPolicy(model, max_new_tokens=max_new_tokens)
    critic = ModelCritic(model)
    names = ("propose_legal", "critique_after_propose", "critique_cold", "critique_with_rationale", "propose_free_text")
    times: dict[str, list[float]] = {name: [] for name in names}
    prompt_len = 0
    for round_ in range(repeats + 1):  # round 0 warms up and is not counted
        context = node_context(model, prompt_tokens=prompt_tokens, k=2 * k, variant=round_)
        free = StepContext(goal=context.goal, observation=context.observation, history=context.history)
        t_propose, proposal = _timed(lambda: policy.propose(context, k))  # noqa: B023 - called at once
        top = [c.text for c in proposal.candidates]
        t_after, _ = _timed(lambda: critic.critique(context, top))  # noqa: B023
        model.clear_prefix_cache()
        t_cold, _ = _timed(lambda: critic.critique(context, top))  # noqa: B023
        model.clear_prefix_cache()
        t_rationale, _ = _timed(lambda: critic.critique(context, top, rationale=True))  # noqa: B023
        t_free, _ = _timed(lambda: policy.propose(free, k, seed=round_))  # noqa: B023
        if round_:
            for name, seconds in zip(names, (t_propose, t_after, t_cold, t_rationale, t_free), strict=True):
                times[name].append(seconds)
        prompt_len = len(model.encode(proposal.prompt))
    result: dict[str, Any] = {
        "k": k,
        "legal_actions": 2 * k,
        "prompt_tokens": prompt_len,
        "free_text_max_new_tokens": max_new_tokens,
    }
    result.update({f"{name}_median_s": statistics.median(values) for name, values in times.items()})
    return result


def main(argv: Sequence[str] | None = None) -> int:
    """Run both benchmarks and write JSON to `--out`; prints the JSON too."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--model-dir", type=Path, default=None, help="model directory (default: SmolLM2)")
    parser.add_argument("--dtype", choices=["float32", "bfloat16", "auto"], default="float32")
    parser.add_argument("--k", type=int, default=8)
    parser.add_argument("--prompt-tokens", type=int, default=338)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    if args.model_dir is None:
        from practicum.agents.default import default_model_dir

        args.model_dir = default_model_dir()
    dtype: DTypeName = args.dtype
    model = LocalModel(args.model_dir, dtype=dtype)
    load_before = os.getloadavg()
    report = {
        "model": model.name,
        "dtype": str(model.dtype),
        "device": str(model.device),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "machine": platform.processor() or platform.machine(),
        "scoring": scoring_benchmark(model, k=args.k, prompt_tokens=args.prompt_tokens, repeats=args.repeats),
        "node": node_benchmark(model, k=5, prompt_tokens=args.prompt_tokens, repeats=args.repeats),
        "loadavg_1min_before_after": [load_before[0], os.getloadavg()[0]],
    }
    text = json.dumps(report, indent=2)
    print(text)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
