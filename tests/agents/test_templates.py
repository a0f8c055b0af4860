"""Template actions (`search[<query>]`): parsed, and filled with generated text by local and endpoint policies."""

from __future__ import annotations

import pytest

from practicum.agents import templates
from practicum.agents.base import StepContext
from practicum.agents.endpoint import EndpointClient, EndpointPolicy
from practicum.agents.local import LocalModel, LocalPolicy
from tests.agents.openai_server import OpenAIServer

SHOP = ("click[1]", "click[4]", "search[<query>]", "type[2][<text>]", "back")


def shop(legal: tuple[str, ...] = SHOP) -> StepContext:
    listed = "\n".join(f"{i}. {a}" for i, a in enumerate(legal, 1))
    return StepContext(
        goal="Buy pink running shoes under $110.",
        observation=f'Page: Practicum Shop\n[1] link "Home"\n[2] searchbox\n\nLegal actions:\n{listed}',
        legal_actions=legal,
    )


def test_templates_split_around_their_slot_and_fill_up_to_the_stop_character() -> None:
    search = templates.parse("search[<query>]")
    assert search == templates.Template("search[", "]") and search.stop == "]"
    assert search.fill(" pink shoes] and more") == "search[pink shoes]"
    assert search.fill("pink shoes\nclick[3]") == "search[pink shoes]"
    assert search.fill("") == "search[]"
    typed = templates.parse("type[2][<text>]")
    assert typed is not None and typed.fill("size 9]") == "type[2][size 9]"
    assert templates.parse("click[3]") is None and templates.parse("left") is None
    assert templates.concrete(SHOP) == ["click[1]", "click[4]", "back"]


def test_local_policy_fills_template_candidates_with_scored_concrete_actions(tiny_model: LocalModel) -> None:
    policy = LocalPolicy(tiny_model, max_new_tokens=6)
    proposal = policy.propose(shop(), len(SHOP), temperature=0.0)
    texts = [c.text for c in proposal.candidates]
    assert not any("<" in t for t in texts), texts  # nothing reaches the environment with a placeholder
    filled = [t for t in texts if t.startswith(("search[", "type[2]["))]
    assert len(filled) == 2 and all(t.endswith("]") for t in filled)
    # A filled action's log-prob is what scoring it gives: the store and the trainer rely on that.
    again = {c.text: c.logprob for c in policy.score(shop(), texts).candidates}
    for c in proposal.candidates:
        assert c.logprob == pytest.approx(again[c.text], abs=1e-4)
    # Greedy filling is deterministic; concrete legal actions pass through untouched.
    assert [c.text for c in policy.propose(shop(), len(SHOP), temperature=0.0).candidates] == texts
    assert {"click[1]", "click[4]", "back"} <= set(texts)


def test_endpoint_policy_fills_template_candidates_through_the_completions_api(
    openai_server: OpenAIServer, tiny_model: LocalModel
) -> None:
    policy = EndpointPolicy(EndpointClient(openai_server.base_url, "tiny"), max_new_tokens=6)
    proposal = policy.propose(shop(), len(SHOP), temperature=0.0)
    texts = [c.text for c in proposal.candidates]
    assert not any("<" in t for t in texts), texts
    assert sum(t.startswith(("search[", "type[2][")) for t in texts) == 2
    assert all(c.logprob is not None for c in proposal.candidates)
    generations = [r for r in openai_server.requests if r[0] == "/v1/completions" and not r[1].get("echo")]
    assert len(generations) == 2 and all(r[1]["stop"] == ["]"] for r in generations)
