"""A tiny text adventure written as a third-party gymnasium env would be, for the suite-file tests.

What it has that the built-in games lack: text actions whose set changes with the state (listed in
`info["legal_actions"]`), a member that cannot be pickled (a generator), rewards before the last step (0.5 for
the key, 0.5 for the chest), levels read from game files, and debug output written straight to file
descriptors 1 and 2, as a C library would.

A game file names the room the key lies in and the room the chest stands in, one `thing: room` per line.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gymnasium as gym
from gymnasium import spaces

ROOMS = ("hall", "study", "garden", "cellar")
RESETS = [0]  # resets across every instance: how the tests see search replaying


class TinyAdventure(gym.Env[str, str]):
    """Find the key, then open the chest with it."""

    metadata = {"render_modes": []}  # noqa: RUF012 - gymnasium declares it a plain attribute

    def __init__(self, game_file: str, noisy: bool = True) -> None:
        level = dict(line.split(": ") for line in Path(game_file).read_text().splitlines() if line.strip())
        self.key_room, self.chest_room = level["key"], level["chest"]
        self.noisy = noisy
        self.action_space = spaces.Text(max_length=64)
        self.observation_space = spaces.Text(max_length=512)
        self.room = "hall"
        self.has_key = False
        self.narrator: Iterator[str] = iter(())

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[str, dict[str, Any]]:
        super().reset(seed=seed)
        RESETS[0] += 1
        self.room, self.has_key = "hall", False
        self.narrator = self._moods()  # a generator: the env's state cannot be pickled as a whole
        return self._describe(), {"legal_actions": self._legal()}

    def step(self, action: str) -> tuple[str, float, bool, bool, dict[str, Any]]:
        if self.noisy:
            os.write(1, b"[engine] stdout noise from C\n")
            os.write(2, b"[engine] stderr noise from C\n")
            print("[engine] python noise")
        if action not in self._legal():
            raise ValueError(f"illegal command {action!r}")
        reward, done = 0.0, False
        if action.startswith("go "):
            self.room = action[3:]
        elif action == "take key":
            self.has_key, reward = True, 0.5
        elif action == "open chest":
            reward, done = 0.5, True
        return self._describe(won=done), reward, done, False, {"legal_actions": self._legal(), "won": done}

    def _legal(self) -> list[str]:
        moves = [f"go {room}" for room in ROOMS if room != self.room]
        if self.room == self.key_room and not self.has_key:
            moves.append("take key")
        if self.room == self.chest_room and self.has_key:
            moves.append("open chest")
        return moves

    def _describe(self, won: bool = False) -> str:
        if won:
            return "The chest creaks open: gold! You win."
        things = []
        if self.room == self.key_room and not self.has_key:
            things.append("A brass key lies on the floor.")
        if self.room == self.chest_room:
            things.append("A locked chest stands here." if not self.has_key else "The chest's lock fits your key.")
        return " ".join([f"You are in the {self.room}. {next(self.narrator)}", *things])

    def _moods(self) -> Iterator[str]:
        while True:
            yield from ("It is quiet.", "Dust drifts in the light.", "Somewhere, a clock ticks.")


def render(env: Any, obs: str) -> str:
    """The renderer a suite file may name: the observation, and whether the key is held."""
    return f"{obs}\nYou carry {'the key' if env.has_key else 'nothing'}."
