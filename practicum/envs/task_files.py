"""User task files: a suite file naming a gymnasium game, or a browser task file, each registering its suite.

Apart from the registry because it reaches up to the suite kinds that read files (`envs.games.suite_file`,
`envs.web`), which themselves register through the registry.
"""

from __future__ import annotations

from practicum.envs.games.suite_file import is_suite_file, load_suite_file
from practicum.envs.registry import Suite


def load_task_files(paths: list[str] | tuple[str, ...]) -> list[Suite]:
    """Register the suites of user files (see docs/environments.md), told apart by their content: a suite file
    (YAML naming a gymnasium env: `gym_id:` or `entry_point:`, no `tasks:`) or a browser task file (YAML with
    `tasks:`, or Python)."""
    if not paths:
        return []
    loaded = []
    for path in paths:
        if is_suite_file(path):
            loaded.append(load_suite_file(path))
        else:
            from practicum.envs.web import load_browser_tasks  # Playwright is imported only for browser tasks

            loaded.append(load_browser_tasks(path))
    return loaded
