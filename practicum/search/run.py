"""Play single episodes of a registered suite and print their trajectories: what `practicum run` calls."""

from __future__ import annotations

import dataclasses
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table

from practicum.agents.base import Critic, Policy
from practicum.envs.registry import get_suite
from practicum.search.config import SearchConfig
from practicum.search.mcts import search_episode
from practicum.search.tree import EpisodeTree


def run_episode(
    env_id: str,
    policy: Policy,
    critic: Critic | None = None,
    *,
    search: bool = False,
    config: SearchConfig | None = None,
    seed: int = 0,
    env_kwargs: dict[str, Any] | None = None,
    console: Console | None = None,
    show_observations: bool = False,
) -> EpisodeTree:
    """Play the task `env_id:seed` once and print its trajectory; return the episode's tree.

    `search=False` plays greedily (the policy's top action each step); `search=True` runs MCTS with
    `config` (default `SearchConfig()`) and `critic`, which defaults to the policy's own model as critic
    (`agents.critic.critic_for`). `config.mode` is overridden by `search`. `env_kwargs` go to the suite's
    environment factory (e.g. `{"max_steps": 20}`). Unknown suites or seeds raise `UnknownIdError`.
    """
    suite = get_suite(env_id)
    task = suite.task(seed)
    base = config or SearchConfig()
    cfg = dataclasses.replace(base, mode="search" if search else "greedy")
    if critic is None and cfg.consults_critic:
        from practicum.agents.critic import critic_for  # loads nothing new: it shares the policy's model

        critic = critic_for(policy)
    out = console or Console()
    env = suite.env(**(env_kwargs or {}))
    try:
        with out.status(f"{'searching' if search else 'playing'} {escape(task.key)}..."):
            tree = search_episode(env, policy, critic, cfg, task=task)
    finally:
        env.close()
    print_episode(tree, out, show_observations=show_observations)
    return tree


def print_episode(tree: EpisodeTree, console: Console, *, show_observations: bool = False) -> None:
    """Print an episode: the first observation, one row per committed step, the last observation, a summary."""
    if not tree.nodes:  # the environment failed before its first observation
        console.print(summary(tree))
        return
    console.print(
        Panel(
            escape(tree.root.observation or ""),
            title=f"{escape(tree.task)}  ·  {tree.mode}  ·  {escape(tree.policy)}",
            title_align="left",
        )
    )
    table = Table(title="trajectory", show_lines=show_observations)
    for column in ("step", "action", "prior", "critic", "visits", "Q^", "reward", "note"):
        table.add_column(column, overflow="fold", justify="right" if column in ("step", "reward") else "left")
    for step, node in enumerate(tree.path[1:], 1):
        note = ""
        if node.invalid or node.error:
            note = f"[red]{escape(node.error or 'invalid action')}[/]"
        elif node.success:
            note = "[green]solved[/]"
        row = [
            str(step),
            escape(node.action or ""),
            f"{node.prior:.2f}",
            "-" if node.critic_score is None else f"{node.critic_score:.2f}",
            str(node.visits),
            f"{node.blended_value:.2f}",
            f"{node.reward:g}",
            note,
        ]
        table.add_row(*row)
        if show_observations:
            table.add_row("", escape(node.observation or ""), *[""] * 6)
    console.print(table)
    if len(tree.path) > 1 and not show_observations:
        console.print(Panel(escape(tree.final.observation or ""), title="last observation", title_align="left"))
    console.print(summary(tree))


def summary(tree: EpisodeTree) -> str:
    """One line of rich markup: outcome, reward, steps, search effort, time and tokens."""
    if tree.success:
        outcome = "[bold green]success[/]"
    else:
        kind = tree.failure_kind.value if tree.failure_kind else "unfinished"
        outcome = f"[bold red]failure ({kind})[/]" + (f": {escape(tree.error)}" if tree.error else "")
    return (
        f"{outcome}  reward {tree.reward:g}  steps {tree.steps}  invalid {tree.invalid_actions}  "
        f"simulations {tree.simulations}  nodes {len(tree.nodes)}  "
        f"{tree.wall_seconds:.1f}s ({tree.model_seconds:.1f}s in the model)  "
        f"tokens {tree.prompt_tokens}+{tree.completion_tokens}"
    )
