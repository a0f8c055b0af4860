"""benchmarks/env_bench.py measures the game envs and merges into the results file without losing other keys."""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType

from tests.benchmarks import load_benchmark


def load_bench() -> ModuleType:
    return load_benchmark("env_bench")


def test_bench_lists_every_game_suite_and_merges_results(tmp_path: Path) -> None:
    bench = load_bench()
    from tests.envs.games.helpers import GAME_SUITES

    assert {name for name, _, _ in bench.ENVS} >= set(GAME_SUITES)
    out = tmp_path / "envs.json"
    out.write_text(json.dumps({"shop.steps_per_s": 12.5}))
    assert bench.main(["--seconds", "0.2", "--only", "taxi", "tictactoe", "--out", str(out)]) == 0
    data = json.loads(out.read_text())
    assert data["shop.steps_per_s"] == 12.5  # another benchmark's key survives
    assert data["taxi.steps_per_s"] > 0 and data["tictactoe.steps_per_s"] > 0
    assert data["taxi.snapshot_restore_per_s"] > 0
