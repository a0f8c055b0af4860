"""Template actions (`search[<query>]`): parsed, and filled with generated text by local and endpoint policies."""

from __future__ import annotations

import math

import pytest

from practicum.agents import templates
from practicum.agents.base import StepContext
from practicum.agents.endpoint import EndpointClient, EndpointPolicy
from practicum.agents.local import LocalModel, LocalPolicy
from practicum.errors import ConfigError
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
    policy = EndpointPolicy(EndpointClient(openai_server.base_url, "tiny"), max_new_tokens=6, fill="generate")
    proposal = policy.propose(shop(), len(SHOP), temperature=0.0)
    texts = [c.text for c in proposal.candidates]
    assert not any("<" in t for t in texts), texts
    assert sum(t.startswith(("search[", "type[2][")) for t in texts) == 2
    assert all(c.logprob is not None for c in proposal.candidates)
    generations = [r for r in openai_server.requests if r[0] == "/v1/completions" and not r[1].get("echo")]
    assert len(generations) == 2 and all(r[1]["stop"] == ["]"] for r in generations)
    # The default fill asks for log-probs only, and picks the same run of goal words as the local model.
    goal_filled = EndpointPolicy(EndpointClient(openai_server.base_url, "tiny")).propose(shop(), 5, temperature=0.0)
    local = LocalPolicy(tiny_model).propose(shop(), 5, temperature=0.0)
    assert {c.text for c in goal_filled.candidates} == {c.text for c in local.candidates}
    assert len([r for r in openai_server.requests if r[0] == "/v1/completions" and not r[1].get("echo")]) == 2


def test_a_template_ranks_by_the_mass_of_replies_that_start_with_its_fixed_part(tiny_model: LocalModel) -> None:
    policy = LocalPolicy(tiny_model)
    ranked = {c.text: c.logprob for c in policy.score(shop(), SHOP).candidates}
    prompt = policy.prompt(shop())
    start = tiny_model.score(prompt, ["search["], ends=[False]).logprobs[0]
    placeholder = tiny_model.score(prompt, ["search[<query>]"]).logprobs[0]
    assert start is not None and placeholder is not None
    assert ranked["search[<query>]"] == pytest.approx(start, abs=1e-5)
    assert start > placeholder  # the placeholder's own text is one unlikely reply among all that start so
    # Every reply that starts with the fixed part counts: more than any one of them, the end-of-turn included.
    closed = tiny_model.score(prompt, ["search[", "search[shoes]"]).logprobs
    assert all(lp is not None and start > lp for lp in closed)
    # Concrete actions keep their score (the end-of-turn included).
    assert ranked["click[1]"] == pytest.approx(tiny_model.score(prompt, ["click[1]"]).logprobs[0], abs=1e-5)


def test_endpoint_scores_the_start_of_a_reply_like_the_local_model(
    openai_server: OpenAIServer, tiny_model: LocalModel
) -> None:
    client = EndpointClient(openai_server.base_url, "tiny")
    prompt = "Goal: buy shoes.\nAction:"
    remote = client.score(prompt, ["search[", "back"], ends=[False, True]).logprobs
    local = tiny_model.score(prompt, ["search[", "back"], ends=[False, True]).logprobs
    assert remote[0] == pytest.approx(local[0], abs=1e-3)
    with pytest.raises(ConfigError, match="ends has 1 flags for 2 completions"):
        client.score(prompt, ["search[", "back"], ends=[False])


def test_a_goal_fill_is_a_run_of_consecutive_goal_words_chosen_by_the_model(tiny_model: LocalModel) -> None:
    context = shop()
    words = templates.words(context.goal)
    policy = LocalPolicy(tiny_model)  # fill="goal", the default
    for temperature, seed in ((0.0, 0), (1.0, 1), (1.0, 2), (2.0, 3)):
        proposal = policy.propose(context, len(SHOP), temperature=temperature, seed=seed)
        texts = [c.text for c in proposal.candidates]
        search = next(t for t in texts if t.startswith("search["))
        run = search[len("search[") : -1].split()
        assert 1 <= len(run) <= 4 and any(words[i : i + len(run)] == run for i in range(len(words))), search
    # Greedy: every word is the model's top choice among the allowed next words (or the end of the slot).
    greedy = [c.text for c in policy.propose(context, len(SHOP), temperature=0.0).candidates]
    run = next(t for t in greedy if t.startswith("search["))[len("search[") : -1].split()
    start = policy.prompt(context) + "search["
    first = {w: tiny_model.score(start, [w], ends=[False]).logprobs[0] for w in dict.fromkeys(words)}
    assert run[0] == max(first, key=lambda w: first[w] or -math.inf)
    # The free-generation rule stays available for models that can write their own text.
    free = LocalPolicy(tiny_model, max_new_tokens=6, fill="generate")
    assert free.fill == "generate" and any(
        t.startswith("search[") for t in [c.text for c in free.propose(context, 5, temperature=0.0).candidates]
    )


def test_an_unknown_fill_rule_is_refused() -> None:
    from practicum.agents.config import PolicyConfig

    with pytest.raises(ConfigError, match="fill must be one of"):
        PolicyConfig(fill="invent")  # type: ignore[arg-type]
