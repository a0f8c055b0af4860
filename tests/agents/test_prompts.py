"""Prompt wording, rendering and reply parsing."""

from __future__ import annotations

import pytest
from transformers import PreTrainedTokenizerFast

from practicum.agents import prompts
from practicum.agents.base import StepContext
from practicum.errors import ConfigError
from tests.tiny_model import make_tiny_tokenizer

CONTEXT = StepContext(
    goal="Reach G.",
    observation="Goal: Reach G.\n\nSF\nHG\n\nLegal actions:\n1. left\n2. right",
    history=("down",),
    legal_actions=("left", "right"),
)


@pytest.fixture(scope="module")
def tokenizer() -> PreTrainedTokenizerFast:
    return make_tiny_tokenizer()


def test_policy_prompt_is_a_stable_string_holding_the_observation(tokenizer: PreTrainedTokenizerFast) -> None:
    text = prompts.render(tokenizer, prompts.policy_messages(CONTEXT))
    # The exact text: changing it changes what the store and the trainer see, so it needs a version bump.
    assert text == (
        "<|im_start|>system\nAct to reach the goal. Reply with exactly one action.<|im_end|>\n<|im_start|>user\n"
        "Goal: Reach G.\n\nSF\nHG\n\nLegal actions:\n1. left\n2. right\n\nActions so far: down<|im_end|>\n"
        "<|im_start|>assistant\n"
    )
    assert prompts.PROMPT_VERSION == "v3"
    assert prompts.render(tokenizer, prompts.policy_messages(CONTEXT)) == text


def test_free_text_prompt_asks_for_the_next_action_only(tokenizer: PreTrainedTokenizerFast) -> None:
    free = StepContext(goal="Buy red shoes.", observation="Goal: Buy red shoes.\n\n[search box]")
    text = prompts.render(tokenizer, prompts.policy_messages(free))
    assert "[search box]" in text
    assert "Reply with the next action only." in text
    assert "legal actions" not in text
    assert "Actions so far" not in text  # no history yet


def test_goal_is_added_only_when_the_observation_lacks_it() -> None:
    with_goal = prompts.policy_messages(CONTEXT)[1]["content"]
    assert with_goal.count("Reach G.") == 1
    bare = StepContext(goal="Win the game.", observation="X O .\n. X .\n. . O")
    content = prompts.policy_messages(bare)[1]["content"]
    assert content.startswith("Goal: Win the game.\n\nX O .")


def test_only_the_recent_history_goes_into_the_prompt() -> None:
    long = StepContext(goal="g", observation="Goal: g", history=tuple(f"a{i}" for i in range(20)))
    content = prompts.policy_messages(long)[1]["content"]
    assert f"Actions so far: (... {20 - prompts.MAX_HISTORY} earlier) a12; a13" in content
    assert "a11;" not in content


def test_judge_prompt_asks_about_one_proposed_action(tokenizer: PreTrainedTokenizerFast) -> None:
    text = prompts.render(tokenizer, prompts.judge_messages(CONTEXT, "right"))
    assert text.endswith(
        "Actions so far: down\n\nProposed action:\nright\n\n"
        "Is the proposed action a good move towards the goal? Answer Yes or No.<|im_end|>\n<|im_start|>assistant\n"
    )
    assert "1. left\n2. right" in text  # the observation's own numbering stays as it is
    assert "left" not in text.split("Proposed action:")[1]  # no other candidate, no option letters


def test_judge_question_splits_the_rendered_prompt_around_the_action(tokenizer: PreTrainedTokenizerFast) -> None:
    for render in (lambda m: prompts.render(tokenizer, m), prompts.render_plain):
        question = prompts.judge_question(render, CONTEXT)
        assert question.prefix.endswith(prompts.JUDGE_LEAD)
        assert question.suffix.startswith("\n\n" + prompts.JUDGE_QUESTION)
        for action in ("right", "left", "type[search box][red shoes]"):
            assert question.messages(action) == prompts.judge_messages(CONTEXT, action)
            assert question.text(action) == render(question.messages(action))


def test_judge_question_rejects_a_template_that_loses_or_repeats_the_action() -> None:
    with pytest.raises(ConfigError, match="changed the judge prompt's action slot"):
        prompts.judge_question(lambda m: "a fixed prompt", CONTEXT)
    with pytest.raises(ConfigError, match="changed the judge prompt's action slot"):
        prompts.judge_question(lambda m: m[-1]["content"] * 2, CONTEXT)


def test_plain_rendering_is_used_without_a_chat_template(tokenizer: PreTrainedTokenizerFast) -> None:
    tokenizer.chat_template = None
    try:
        text = prompts.render(tokenizer, prompts.policy_messages(CONTEXT))
    finally:
        tokenizer.chat_template = make_tiny_tokenizer().chat_template
    assert text == prompts.render_plain(prompts.policy_messages(CONTEXT))
    assert text.startswith("System: Act to reach the goal.") and text.endswith("\n\nAssistant:\n")


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("right", "right"),
        ("  Right \n because it is safe", "right"),
        ("2", "right"),
        ("2. right", "right"),
        ("1.", "left"),
        ("3", None),
        ("2. left", "left"),
        ("jump", None),
        ("", None),
        ("\n\n", None),
    ],
)
def test_match_legal_accepts_the_action_or_its_list_number(reply: str, expected: str | None) -> None:
    assert prompts.match_legal(reply, ["left", "right"]) == expected


def test_clean_action_keeps_the_first_non_empty_line() -> None:
    assert prompts.clean_action("\n  search[red shoes]  \nmore text") == "search[red shoes]"
    assert prompts.clean_action("   ") == ""


def test_policy_and_critic_prompts_share_everything_up_to_the_request(tokenizer: PreTrainedTokenizerFast) -> None:
    policy = prompts.render(tokenizer, prompts.policy_messages(CONTEXT))
    critic = prompts.judge_question(lambda m: prompts.render(tokenizer, m), CONTEXT).prefix
    shared = policy[: policy.index("Actions so far: down") + len("Actions so far: down")]
    assert critic.startswith(shared)
