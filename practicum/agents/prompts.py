"""Every prompt practicum sends to a model, in one place and versioned.

A prompt is built as chat messages (`policy_messages`, `judge_messages`) and rendered to the exact text the
model reads with the tokenizer's own chat template (`render`). That text, not the messages, is what
`Proposal.prompt` and `Critique.prompt` (the judge question with `{action}` in the action's place) carry,
together with `PROMPT_VERSION`, so the store keeps exactly what the model saw and the trainer can train on the
same string. Change the wording here and bump the version.

Prompts are short on purpose: the default model is a 135M-parameter model running on CPU, where every prompt
token costs time at every node of the search tree.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from practicum.agents.base import StepContext
from practicum.errors import ConfigError

PROMPT_VERSION = "v3"

Message = dict[str, str]

# The policy and the critic share the system message and the situation text, and differ only in the request
# at the end: a local model then computes the shared part once per node (`LocalModel.prefill` reuses it).
SYSTEM = "Act to reach the goal. Reply with exactly one action."
POLICY_SYSTEM = SYSTEM
CRITIC_SYSTEM = SYSTEM

# The critic's question about one proposed action. The action ends its own line, so that the text before it
# (shared by every candidate of a node) never ends in a space that BPE would merge into the action.
JUDGE_LEAD = "Proposed action:\n"
JUDGE_QUESTION = "Is the proposed action a good move towards the goal? Answer Yes or No."
JUDGE_ANSWERS = ("Yes", "No")
_ACTION_SLOT = "\x00action\x00"  # a placeholder no observation contains (sanitised text has no NUL)

# Only the most recent actions go into the prompt; older ones are already reflected in the observation.
MAX_HISTORY = 8


class ChatTemplater(Protocol):
    """The part of a Hugging Face tokenizer that renders chat messages."""

    def apply_chat_template(self, conversation: Any, **kwargs: Any) -> Any:
        """Render messages to text (with `tokenize=False`)."""


def _situation(context: StepContext) -> str:
    """The observation, the goal when the observation does not already state it, and recent actions."""
    parts = []
    if context.goal and context.goal not in context.observation:
        parts.append(f"Goal: {context.goal}")
    parts.append(context.observation.strip())
    recent = context.history[-MAX_HISTORY:]
    if recent:
        skipped = len(context.history) - len(recent)
        prefix = f"(... {skipped} earlier) " if skipped else ""
        parts.append("Actions so far: " + prefix + "; ".join(recent))
    return "\n\n".join(parts)


def policy_messages(context: StepContext) -> list[Message]:
    """The chat messages asking for the next action; the action is the assistant's reply."""
    # With legal actions the observation ends in their list and the policy is scored over them only: a request
    # after the list would cost its tokens at every decision and change nothing the policy can choose.
    request = "" if context.legal_actions is not None else "\n\nReply with the next action only."
    return [
        {"role": "system", "content": POLICY_SYSTEM},
        {"role": "user", "content": f"{_situation(context)}{request}"},
    ]


def judge_messages(context: StepContext, action: str) -> list[Message]:
    """The chat messages asking whether one proposed action is good; the reply starts with Yes or No.

    The critic asks this once per candidate, each question alone: a candidate's score then depends on the
    situation and on that action only, never on which other candidates there are or the order they come in
    (a list of lettered options is read by a small model mostly by position: option A won whatever it held).
    """
    return [
        {"role": "system", "content": CRITIC_SYSTEM},
        {"role": "user", "content": f"{_situation(context)}\n\n{JUDGE_LEAD}{action}\n\n{JUDGE_QUESTION}"},
    ]


@dataclass(frozen=True)
class JudgeQuestion:
    """The critic's question about one situation, rendered once: the prompt for action `a` is exactly
    `prefix + a + suffix`, so every candidate of a node shares `prefix` (computed once)."""

    context: StepContext
    prefix: str
    suffix: str

    def text(self, action: str) -> str:
        """The rendered question about `action`."""
        return self.prefix + action + self.suffix

    def messages(self, action: str) -> list[Message]:
        """The same question as chat messages, for a backend that renders them itself."""
        return judge_messages(self.context, action)


def judge_question(render_fn: Callable[[Sequence[Message]], str], context: StepContext) -> JudgeQuestion:
    """The judge prompt for `context` rendered by `render_fn`, split around the action's place."""
    text = render_fn(judge_messages(context, _ACTION_SLOT))
    prefix, found, suffix = text.partition(_ACTION_SLOT)
    if not found or _ACTION_SLOT in suffix:
        raise ConfigError("the chat template changed the judge prompt's action slot; use a plain template")
    return JudgeQuestion(context, prefix, suffix)


def render(tokenizer: ChatTemplater, messages: Sequence[Message]) -> str:
    """The exact prompt text: `messages` through the tokenizer's chat template, ready for the reply.

    Tokenizers without a chat template (base models) get `render_plain`'s layout instead.
    """
    if getattr(tokenizer, "chat_template", None):
        text = tokenizer.apply_chat_template(list(messages), tokenize=False, add_generation_prompt=True)
        if isinstance(text, str):
            return text
    return render_plain(messages)


def render_plain(messages: Sequence[Message]) -> str:
    """A template-free rendering, for base models and for endpoints whose chat template is unknown."""
    lines = [f"{m['role'].capitalize()}: {m['content']}" for m in messages]
    # The reply starts on a new line, so the prompt never ends in a space that BPE would merge into it.
    return "\n\n".join(lines) + "\n\nAssistant:\n"


def clean_action(text: str) -> str:
    """The action in a model's free-text reply: its first non-empty line, trimmed (may be empty)."""
    for line in text.strip().splitlines():
        if line.strip():
            return line.strip()
    return ""


def match_legal(text: str, legal_actions: Sequence[str]) -> str | None:
    """The legal action a model's reply names, or None.

    Accepts the action itself (case and surrounding whitespace ignored), the action after its list number
    ("2. right"), or the bare list number ("2"), because observations number the legal actions.
    """
    reply = clean_action(text)
    if not reply:
        return None
    by_lower = {a.strip().lower(): a for a in legal_actions}
    if reply.lower() in by_lower:
        return by_lower[reply.lower()]
    head, _, rest = reply.partition(".")
    if head.strip().isdigit():
        number = int(head.strip())
        if rest.strip():
            return by_lower.get(rest.strip().lower())
        if 1 <= number <= len(legal_actions):
            return legal_actions[number - 1]
    return None
