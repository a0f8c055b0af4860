"""Self-critique: each candidate's own Yes/No question, scored locally and over HTTP."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from practicum.agents import prompts
from practicum.agents.base import StepContext
from practicum.agents.critic import NEUTRAL_SCORE, ModelCritic, answer_in_reply, critic_for, yes_share
from practicum.agents.endpoint import EndpointClient, EndpointPolicy
from practicum.agents.local import LocalModel, LocalPolicy
from practicum.errors import ConfigError
from tests.agents.openai_server import PROSE, OpenAIServer

CONTEXT = StepContext(
    goal="Reach G.",
    observation="Goal: Reach G.\n\nSFFF\nFHFH\nFFFG\n\nLegal actions:\n1. left\n2. right\n3. up\n4. down",
    history=("down",),
    legal_actions=("left", "right", "up", "down"),
)
ACTIONS = ["right", "down", "left"]


def answer_ids(model: LocalModel, word: str) -> list[int]:
    """The single-token spellings of an answer word in `model`'s vocabulary ("Yes", " Yes", "yes", " yes")."""
    spellings = [model.encode(s) for s in (word, " " + word, word.lower(), " " + word.lower())]
    return sorted({s[0] for s in spellings if len(s) == 1})


def by_hand(model: LocalModel, action: str) -> float:
    """p(Yes) / (p(Yes) + p(No)) after the action's own question, from one full forward pass (no cache)."""
    ids = model.encode(prompts.judge_question(model.render, CONTEXT).text(action))
    with torch.inference_mode():
        logits = model.model(input_ids=torch.tensor([ids])).logits[0, -1].float()
    probs = torch.softmax(logits, -1)
    yes, no = (float(probs[answer_ids(model, w)].sum()) for w in ("Yes", "No"))
    return yes / (yes + no)


def scores_by_action(critic: ModelCritic, actions: list[str]) -> dict[str, float]:
    critique = critic.critique(CONTEXT, actions)
    assert critique.parsed and critique.actions == actions
    return dict(zip(actions, critique.scores, strict=True))


def test_tiny_vocabulary_spells_yes_and_no_as_single_tokens(tiny_model: LocalModel) -> None:
    # The tests below read real answer probabilities only if the tiny tokenizer has these tokens (as SmolLM2 does).
    for word in ("Yes", "No"):
        assert len(tiny_model.encode(word)) == 1 and len(tiny_model.encode(" " + word)) == 1


def test_local_critic_scores_do_not_depend_on_candidate_order(tiny_model: LocalModel) -> None:
    critic = ModelCritic(tiny_model)
    given = scores_by_action(critic, ACTIONS)
    assert len({round(s, 4) for s in given.values()}) == len(ACTIONS)  # distinct, so a mix-up would show
    for order in (ACTIONS[::-1], ACTIONS[1:] + ACTIONS[:1]):
        assert scores_by_action(critic, order) == pytest.approx(given, abs=1e-5)


def test_local_critic_score_is_the_yes_share_of_the_actions_own_question(tiny_model: LocalModel) -> None:
    question = prompts.judge_question(tiny_model.render, CONTEXT)
    prefix, suffix = question.prefix, question.suffix
    for action in ACTIONS:
        # The prompt the critic scores is exactly this question, and splitting it at the action keeps its tokens.
        assert prefix + action + suffix == tiny_model.render(prompts.judge_messages(CONTEXT, action))
        assert tiny_model.encode(prefix + action + suffix) == tiny_model.encode(prefix) + tiny_model.encode(
            action + suffix
        )
    critic = ModelCritic(tiny_model)
    critique = critic.critique(CONTEXT, ACTIONS)
    assert critique.parsed and critique.rationale is None
    assert critique.prompt == prefix + "{action}" + suffix
    assert critique.scores == pytest.approx([by_hand(tiny_model, a) for a in ACTIONS], abs=1e-4)
    expected_tokens = len(tiny_model.encode(prefix)) + sum(len(tiny_model.encode(a + suffix)) for a in ACTIONS)
    assert (critique.prompt_tokens, critique.completion_tokens) == (expected_tokens, 0)
    # Not a share of a whole: a candidate keeps its score alone or beside others.
    alone = critic.critique(CONTEXT, ["right"]).scores
    assert alone == pytest.approx(critique.scores[:1], abs=1e-5)
    more = scores_by_action(critic, [*ACTIONS, "up"])
    assert [more[a] for a in ACTIONS] == pytest.approx(critique.scores, abs=1e-5)


def test_the_critic_renders_each_question_once(tiny_model: LocalModel, monkeypatch: pytest.MonkeyPatch) -> None:
    rendered: list[str] = []
    render = tiny_model.render
    monkeypatch.setattr(tiny_model, "render", lambda messages: rendered.append("") or render(messages))
    ModelCritic(tiny_model).critique(CONTEXT, ACTIONS)
    assert len(rendered) == 1  # one chat-template render per node, however many candidates


def test_rationale_is_generated_only_when_asked_and_starts_with_the_answer(tiny_model: LocalModel) -> None:
    critic = ModelCritic(tiny_model, max_rationale_tokens=6)
    plain = critic.critique(CONTEXT, ACTIONS)
    explained = critic.critique(CONTEXT, ACTIONS, rationale=True)
    assert plain.rationale is None and plain.completion_tokens == 0
    assert explained.scores == pytest.approx(plain.scores, abs=1e-6)
    best = max(plain.scores)
    answer = "Yes" if best >= 0.5 else "No"  # about the best candidate
    assert explained.rationale is not None and explained.rationale.startswith(answer)
    assert 1 <= explained.completion_tokens <= 7  # the answer token, then up to 6 more


def test_critic_shares_the_policys_loaded_model_and_its_prompt_cache(tiny_model_dir: Path) -> None:
    model = LocalModel(tiny_model_dir, prefix_block=4)
    policy = LocalPolicy(model)
    critic = critic_for(policy)
    assert isinstance(critic, ModelCritic)
    assert critic.backend is policy.model  # one copy of the weights
    proposal = policy.propose(CONTEXT, 3)
    reused = model.usage.extra.get("reused_prompt_tokens", 0)
    critique = critic.critique(CONTEXT, [c.text for c in proposal.candidates])
    assert model.usage.calls == 2  # counted on the shared model
    # The judge prompt repeats the policy's up to the request, so that part is not computed again.
    shared = proposal.prompt[: proposal.prompt.index("Actions so far: down") + len("Actions so far: down")]
    assert critique.prompt.startswith(shared)
    saved = model.usage.extra["reused_prompt_tokens"] - reused
    assert saved >= len(model.encode(shared)) - 4


def test_a_vocabulary_without_answer_tokens_gives_neutral_scores_counted(tiny_model_dir: Path) -> None:
    model = LocalModel(tiny_model_dir)
    critic = ModelCritic(model)
    model.answer_spellings.pop("no")  # as if "No" took two tokens in this vocabulary
    critique = critic.critique(CONTEXT, ACTIONS)
    assert not critique.parsed
    assert critique.scores == [NEUTRAL_SCORE] * 3
    assert model.usage.invalid_outputs == 1


def test_critic_needs_a_candidate(tiny_model: LocalModel, openai_server: OpenAIServer) -> None:
    with pytest.raises(ConfigError, match="at least one candidate action"):
        ModelCritic(tiny_model).critique(CONTEXT, [])
    with pytest.raises(ConfigError, match="at least one candidate action"):
        ModelCritic(EndpointClient(openai_server.base_url, "tiny")).critique(CONTEXT, [])


def test_endpoint_critic_asks_one_question_per_candidate_and_reads_top_logprobs(
    tiny_model: LocalModel, tiny_model_dir: Path, openai_server: OpenAIServer
) -> None:
    client = EndpointClient(openai_server.base_url, "tiny", tokenizer=tiny_model_dir)
    # Ask for every token's log-prob (the tiny vocabulary is 400 tokens) so no answer spelling is cut off.
    critique = ModelCritic(client, top_logprobs=400).critique(CONTEXT, ACTIONS)
    local = ModelCritic(tiny_model).critique(CONTEXT, ACTIONS)
    assert critique.parsed
    assert critique.prompt == local.prompt
    assert critique.scores == pytest.approx(local.scores, abs=1e-4)
    assert len(openai_server.requests) == len(ACTIONS)
    for (path, body), action in zip(openai_server.requests, ACTIONS, strict=True):
        assert path == "/v1/chat/completions" and body["max_tokens"] == 1 and body["top_logprobs"] == 400
        assert body["messages"] == prompts.judge_messages(CONTEXT, action)
    assert client.usage.invalid_outputs == 0


def test_endpoint_critic_reads_a_yes_or_no_reply_when_there_are_no_logprobs(openai_server: OpenAIServer) -> None:
    openai_server.reset("verdicts")
    openai_server.verdicts = {"right": "Yes, it avoids the hole.", "down": "no", "left": "**YES**"}
    critic = ModelCritic(EndpointClient(openai_server.base_url, "tiny"))
    critique = critic.critique(CONTEXT, ACTIONS)
    assert critique.parsed and critique.scores == [1.0, 0.0, 1.0]
    # Each answer belongs to its own action, whatever the order.
    assert critic.critique(CONTEXT, ACTIONS[::-1]).scores == [1.0, 0.0, 1.0]
    assert critic.backend.usage.invalid_outputs == 0
    explained = critic.critique(CONTEXT, ACTIONS, rationale=True)
    assert explained.rationale == "Yes, it avoids the hole."  # the first best candidate's reply
    assert [body["max_tokens"] for _, body in openai_server.requests[-3:]] == [40] * 3


def test_endpoint_critic_gives_a_prose_answer_a_neutral_score_and_counts_it(openai_server: OpenAIServer) -> None:
    openai_server.reset("verdicts")
    openai_server.verdicts = {"right": "Yes", "down": "Nothing here is safe."}  # "left" gets PROSE
    critic = ModelCritic(EndpointClient(openai_server.base_url, "tiny"))
    critique = critic.critique(CONTEXT, ACTIONS)
    assert critique.parsed  # one answer could be read
    assert critique.scores == [1.0, NEUTRAL_SCORE, NEUTRAL_SCORE]
    assert critic.backend.usage.invalid_outputs == 2


def test_endpoint_critic_of_all_prose_is_unparsed_and_counts_each_answer(openai_server: OpenAIServer) -> None:
    openai_server.reset("prose")
    policy = EndpointPolicy.connect(openai_server.base_url, "tiny")
    critique = critic_for(policy).critique(CONTEXT, ACTIONS)
    assert not critique.parsed
    assert critique.scores == [NEUTRAL_SCORE] * 3
    assert policy.usage.invalid_outputs == 3
    assert len(openai_server.requests) == 3


def test_endpoint_critic_survives_garbage_replies(openai_server: OpenAIServer) -> None:
    critic = ModelCritic(EndpointClient(openai_server.base_url, "tiny"))
    for mode in ("not_json", "bad_shape"):
        openai_server.reset(mode)
        critique = critic.critique(CONTEXT, ACTIONS)
        assert not critique.parsed and critique.scores == [NEUTRAL_SCORE] * 3
    assert critic.backend.usage.invalid_outputs == 6  # one per request, counted once


@pytest.mark.parametrize(
    ("logprobs", "share"),
    [
        ({"Yes": math.log(0.6), "No": math.log(0.2), "Maybe": math.log(0.2)}, 0.75),
        ({"Yes": math.log(0.3), " yes": math.log(0.3), "NO": math.log(0.1), " No": math.log(0.1)}, 0.75),
        ({" Yes ": -0.5}, 1.0),  # the other word outside the top log-probs: probability 0
        ({"No": -0.5, "maybe": -0.1}, 0.0),
        ({"Yes": -9999.0, "No": -0.01}, 0.0),  # OpenAI's placeholder for a negligible token
        ({"Nothing": -0.1, "Yesterday": -0.2, "A": -1.0}, None),  # words that only begin like an answer
        ({}, None),
    ],
)
def test_yes_share_merges_spellings_and_case(logprobs: dict[str, float], share: float | None) -> None:
    assert yes_share(logprobs) == (share if share is None else pytest.approx(share))


@pytest.mark.parametrize(
    ("reply", "answer"),
    [
        ("Yes", 1.0),
        ("  no.", 0.0),
        ("**Yes**, because it avoids the hole", 1.0),
        ("NO, it falls in", 0.0),
        ('"yes"', 1.0),
        ("Nothing is certain", None),
        ("Yesterday it worked", None),
        ("I think yes", None),  # only a leading answer counts
        (PROSE, None),
        ("", None),
    ],
)
def test_answer_in_reply_reads_a_leading_yes_or_no(reply: str, answer: float | None) -> None:
    assert answer_in_reply(reply) == answer


def test_critic_rejects_a_bad_rationale_budget(tiny_model: LocalModel) -> None:
    with pytest.raises(ConfigError, match="need max_rationale_tokens >= 1"):
        ModelCritic(tiny_model, max_rationale_tokens=0)
