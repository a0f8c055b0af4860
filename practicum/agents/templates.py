"""Legal actions with a free-text slot, such as `search[<query>]` or `type[2][<text>]`.

A web page lists its free-text actions as templates: the action's fixed part and a slot in angle brackets.
A policy ranks a template among the other legal actions by the log-prob of its fixed part up to the slot (the
mass of every reply that starts so, not that of the placeholder's text), then fills the slot after the prompt
and that fixed part (with a run of the goal's words, or generated text: `ModelPolicy.fill`), so what reaches the
environment is a concrete action (`search[pink running shoes]`), never the placeholder.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from practicum.agents.base import Candidate

SLOT = re.compile(r"<[a-z_]+>")
PUNCTUATION = ".,;:!?()[]\"'"


@dataclass(frozen=True)
class Template:
    """A template action split around its slot: `prefix` + filled text + `suffix`."""

    prefix: str
    suffix: str

    @property
    def stop(self) -> str | None:
        """The character that ends the filled text (the suffix's first, e.g. "]"), if any."""
        return self.suffix[:1] or None

    def fill(self, generated: str) -> str:
        """The concrete action for generated slot text: cut at the stop character or a line break, trimmed."""
        text = generated
        if self.stop:
            text = text.split(self.stop, 1)[0]
        text = text.splitlines()[0] if text.strip() else ""
        return f"{self.prefix}{text.strip()}{self.suffix}"


def parse(action: str) -> Template | None:
    """The template in `action`, or None when the action is concrete (has no `<slot>`)."""
    match = SLOT.search(action)
    if match is None:
        return None
    return Template(action[: match.start()], action[match.end() :])


def words(text: str) -> list[str]:
    """The words of `text` with the punctuation around each dropped: what a slot filled from the goal is made
    of (`words('Buy "red" shoes, size 9.')` is `["Buy", "red", "shoes", "size", "9"]`)."""
    return [w for w in (raw.strip(PUNCTUATION) for raw in text.split()) if w]


def concrete(actions: tuple[str, ...] | list[str]) -> list[str]:
    """The actions that need no filling (random rollouts pick among these)."""
    return [a for a in actions if parse(a) is None]


def slots(candidates: Sequence[Candidate]) -> list[tuple[int, Template]]:
    """The template candidates among `candidates`, by position."""
    return [(i, t) for i, c in enumerate(candidates) if (t := parse(c.text)) is not None]


def with_fills(
    candidates: Sequence[Candidate], filled: dict[int, str], logprobs: Sequence[float | None]
) -> list[Candidate]:
    """`candidates` with the templates at `filled`'s positions replaced by their concrete actions (scored
    `logprobs`, in `filled`'s order); a fill that repeats an earlier candidate is dropped."""
    scored = dict(zip(filled, logprobs, strict=True))
    out = [Candidate(filled[i], scored[i]) if i in filled else c for i, c in enumerate(candidates)]
    return list({c.text: c for c in out}.values())
