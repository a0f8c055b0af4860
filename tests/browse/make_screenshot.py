"""Draw the README's screenshot of an episode's search tree: `python -m tests.browse.make_screenshot [OUT.png]`.

A store built with the test factories (one FrozenLake-like episode whose tree has a mined pair), served on a free
loopback port and photographed in headless Chromium with one level expanded and a node's detail open.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

from practicum.envs.web.chromium import BASE_ARGS, CHROMIUM_PATH, OFFLINE_ARGS
from practicum.store import Store, open_store
from tests.browse.test_browser import serving
from tests.store.factories import make_episode, make_task

OUT = Path("docs/img/browse-tree.png")
MOVES = ("left", "down", "right", "up")


def _board(idx: int) -> str:
    """A 4x4 lake with the player somewhere that depends on the node."""
    cells = list("SFFFFHFHFFFHHFFG")
    cells[(idx * 5) % 16] = "P"
    return "\n".join("".join(cells[row * 4 : row * 4 + 4]) for row in range(4))


def _store_with_an_episode(path: Path) -> tuple[Store, int]:
    store = open_store(f"sqlite:///{path}")
    run = store.create_run(name="frozenlake practice")
    policy = store.register_policy(
        name="smollm2-135m", base_model="SmolLM2-135M-Instruct", state="promoted", run_id=run
    )
    episode = make_episode(run, task=make_task(seed=7), policy_id=policy, n_nodes=13)
    for node in episode.nodes:
        node.observation = f"Board (P: you, H: hole, G: goal):\n{_board(node.idx)}"
        if node.parent_idx is not None:
            node.action = MOVES[node.idx % 4]
            node.prompt = f"Reach G without falling into a hole.\n{_board(node.parent_idx)}\nLegal: {', '.join(MOVES)}"
            node.critic_rationale = f"{node.action} keeps away from the holes" if node.idx % 3 else ""
    for pair in episode.pairs:
        pair.chosen, pair.rejected = MOVES[pair.chosen_idx % 4], MOVES[pair.rejected_idx % 4]  # type: ignore[operator]
    return store, store.write_episode(episode)


def main(out: Path = OUT) -> Path:
    """Write the screenshot to `out`; return its path."""
    with tempfile.TemporaryDirectory() as folder:
        store, episode_id = _store_with_an_episode(Path(folder) / "store.db")
        try:
            with serving(store, allow_edits=False) as url, sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=CHROMIUM_PATH, headless=True, args=[*BASE_ARGS, *OFFLINE_ARGS]
                )
                page = browser.new_page(viewport={"width": 1200, "height": 900})
                page.goto(f"{url}/episodes/{episode_id}")
                page.locator("#tree[data-ready=yes]").wait_for()
                page.get_by_role("button", name="expand node 1").click()
                page.locator("#tree-node-4").wait_for()
                page.locator("#tree-node-4 > .row > .action").click()
                page.locator("#node-detail dl.facts").wait_for()
                out.parent.mkdir(parents=True, exist_ok=True)
                page.locator("#tree-section").screenshot(path=str(out))
                browser.close()
        finally:
            store.close()
    return out


if __name__ == "__main__":
    print(main(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT))
