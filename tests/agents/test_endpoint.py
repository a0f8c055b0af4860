"""The OpenAI-compatible endpoint policy against a real HTTP server on 127.0.0.1 (tests/agents/openai_server.py)."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from practicum.agents.base import StepContext
from practicum.agents.endpoint import EndpointClient, EndpointPolicy, _parse_echo_scores
from practicum.agents.local import LocalModel, LocalPolicy
from practicum.cli import main
from practicum.errors import ConfigError, ModelError
from practicum.store import open_store
from practicum.store.models import Episode
from tests.agents.openai_server import SERVERS_LIKE, OpenAIServer

LEGAL = ("left", "right", "up", "down", "click[buy now]")
CONTEXT = StepContext(
    goal="Reach G.",
    observation="Goal: Reach G.\n\nSFFF\nFHFH\nFFFG\n\nLegal actions:\n"
    + "\n".join(f"{i}. {a}" for i, a in enumerate(LEGAL, 1)),
    legal_actions=LEGAL,
)
FREE = StepContext(goal="Buy red shoes.", observation="Goal: Buy red shoes.\n\n[search box]")


def policy_on(server: OpenAIServer, tokenizer: Path | None = None, **kwargs: float | int) -> EndpointPolicy:
    return EndpointPolicy.connect(server.base_url, "tiny", tokenizer=tokenizer, backoff=0.01, **kwargs)  # type: ignore[arg-type]


def test_endpoint_scores_equal_local_scores_in_one_request(
    openai_server: OpenAIServer, tiny_model_dir: Path, tiny_model: LocalModel
) -> None:
    policy = policy_on(openai_server, tokenizer=tiny_model_dir)
    policy.client.check_scoring()  # once per server, before the first scoring (tested on its own below)
    openai_server.requests.clear()
    remote = policy.score(CONTEXT, LEGAL)
    local = LocalPolicy(tiny_model).score(CONTEXT, LEGAL)
    assert remote.prompt == local.prompt  # same chat template, same text
    assert [c.logprob for c in remote.candidates] == pytest.approx([c.logprob for c in local.candidates], abs=1e-4)
    [(path, body)] = openai_server.requests
    assert path == "/v1/completions" and body["echo"] is True and len(body["prompt"]) == len(LEGAL)
    assert remote.prompt_tokens > 0  # read from the server's usage


def test_endpoint_propose_with_legal_actions_returns_the_top_k_by_score(
    openai_server: OpenAIServer, tiny_model_dir: Path
) -> None:
    policy = policy_on(openai_server, tokenizer=tiny_model_dir)
    everything = {c.text: c.logprob for c in policy.score(CONTEXT, LEGAL).candidates}
    proposal = policy.propose(CONTEXT, 2)
    assert [c.text for c in proposal.candidates] == sorted(LEGAL, key=lambda a: -(everything[a] or 0.0))[:2]
    assert policy.client.scoring_supported is True


def test_endpoint_free_text_samples_are_distinct_scored_and_seeded(openai_server: OpenAIServer) -> None:
    policy = policy_on(openai_server, max_new_tokens=6)
    first = policy.propose(FREE, 3, seed=5)
    again = policy.propose(FREE, 3, seed=5)
    texts = [c.text for c in first.candidates]
    assert texts and len(set(texts)) == len(texts)
    assert first.candidates == again.candidates
    assert all(c.logprob is not None and c.logprob < 0 for c in first.candidates)
    chat = [body for path, body in openai_server.requests if path == "/v1/chat/completions"]
    assert chat[0]["n"] == 3 and chat[0]["logprobs"] is True and chat[0]["seed"] == 5


def test_without_logprobs_scores_are_none_and_ranking_falls_back_to_votes(openai_server: OpenAIServer) -> None:
    openai_server.reset("scripted")
    openai_server.scripted = ["right", "2", "down", "what a lovely lake", "Right"]
    policy = EndpointPolicy(EndpointClient(openai_server.base_url, "tiny"), vote_samples=5)
    assert [c.logprob for c in policy.score(CONTEXT, LEGAL).candidates] == [None] * len(LEGAL)
    proposal = policy.propose(CONTEXT, 3)
    # right: 3 votes ("right", "2", "Right"), down: 1, then the unvoted ones in listed order.
    assert [c.text for c in proposal.candidates] == ["right", "down", "left"]
    assert all(c.logprob is None for c in proposal.candidates)
    assert proposal.invalid_outputs == 1
    assert policy.client.scoring_supported is False
    # Known unsupported: the next proposal does not ask the completions API again.
    openai_server.requests.clear()
    policy.propose(CONTEXT, 3)
    assert [path for path, _ in openai_server.requests] == ["/v1/chat/completions"]


def test_free_text_without_logprobs_has_none_logprob(openai_server: OpenAIServer) -> None:
    openai_server.reset("no_logprobs")
    proposal = policy_on(openai_server, max_new_tokens=6).propose(FREE, 2, seed=1)
    assert proposal.candidates
    assert all(c.logprob is None for c in proposal.candidates)


def test_a_server_that_refuses_echo_is_asked_once(openai_server: OpenAIServer) -> None:
    openai_server.reset("refuse_echo")
    policy = policy_on(openai_server)
    assert [c.logprob for c in policy.score(CONTEXT, LEGAL).candidates] == [None] * len(LEGAL)
    policy.score(CONTEXT, LEGAL)
    assert len(openai_server.requests) == 1
    assert policy.usage.invalid_outputs == 0  # refusing a feature is not a bad model output


@pytest.mark.parametrize("mode", ["not_json", "bad_shape"])
def test_garbage_replies_are_counted_as_invalid_outputs_not_raised(openai_server: OpenAIServer, mode: str) -> None:
    openai_server.reset(mode)
    policy = policy_on(openai_server)
    free = policy.propose(FREE, 2, seed=0)
    assert free.candidates == []
    assert free.invalid_outputs >= 1
    scored = policy.score(CONTEXT, LEGAL)
    assert [c.logprob for c in scored.candidates] == [None] * len(LEGAL)
    assert policy.client.scoring_supported is None  # garbage says nothing about what the server supports
    legal = policy.propose(CONTEXT, 2)
    assert [c.text for c in legal.candidates] == ["left", "right"]  # list order when nothing else is known
    assert policy.usage.invalid_outputs >= 3


def test_server_errors_are_retried_with_backoff_until_success(openai_server: OpenAIServer) -> None:
    policy = policy_on(openai_server, max_retries=3)
    policy.client.check_scoring()
    policy.score(CONTEXT, ["left", "right"])  # lists are known to work: a 500 now is the server's, retried
    openai_server.reset("flaky")
    openai_server.fail_first = 2
    started = time.perf_counter()
    proposal = policy.score(CONTEXT, ["left", "right"])
    assert len(openai_server.requests) == 3  # two 500s, then the answer
    assert all(c.logprob is not None for c in proposal.candidates)
    assert time.perf_counter() - started >= 0.01 + 0.02  # backoff 0.01 s, doubled


def test_persistent_server_errors_raise_model_error_after_the_retries(openai_server: OpenAIServer) -> None:
    openai_server.reset("error")
    policy = policy_on(openai_server, max_retries=2)
    with pytest.raises(ModelError, match=r"failed 3 time\(s\), last: HTTP 500"):
        policy.propose(FREE, 2)
    assert len(openai_server.requests) == 3


def test_a_server_slower_than_the_timeout_raises_model_error(openai_server: OpenAIServer) -> None:
    openai_server.reset("slow")
    openai_server.delay = 1.0
    policy = policy_on(openai_server, timeout=0.2, max_retries=1)
    with pytest.raises(ModelError, match="timed out"):
        policy.score(CONTEXT, LEGAL)


def test_an_unreachable_endpoint_raises_model_error_with_the_url() -> None:
    with socket.socket() as sock:  # a port that was free a moment ago: nothing listens there
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    policy = EndpointPolicy.connect(f"http://127.0.0.1:{port}/v1", "tiny", max_retries=2, backoff=0.01)
    with pytest.raises(ModelError, match=rf"127\.0\.0\.1:{port}/v1/chat/completions failed 3 time.*connection"):
        policy.propose(FREE, 1)


def test_a_wrong_model_name_raises_model_error_without_retrying(openai_server: OpenAIServer) -> None:
    policy = EndpointPolicy.connect(openai_server.base_url, "gpt-nonexistent", max_retries=3, backoff=0.01)
    with pytest.raises(ModelError, match=r"HTTP 404.*'gpt-nonexistent'"):
        policy.propose(FREE, 1)
    assert len(openai_server.requests) == 1


def test_a_server_that_ignores_n_is_asked_once_per_sample(openai_server: OpenAIServer) -> None:
    openai_server.reset("ignore_n")
    proposal = policy_on(openai_server, max_new_tokens=4).propose(FREE, 3, seed=2)
    chat = [body for path, body in openai_server.requests if path == "/v1/chat/completions"]
    assert [body["n"] for body in chat] == [3, 2, 1]
    assert [body["seed"] for body in chat] == [2, 3, 4]  # different seeds: different samples
    assert 1 <= len(proposal.candidates) <= 3


def test_usage_adds_up_the_servers_token_counts(openai_server: OpenAIServer, tiny_model_dir: Path) -> None:
    policy = policy_on(openai_server, tokenizer=tiny_model_dir)
    first = policy.score(CONTEXT, LEGAL)
    second = policy.propose(FREE, 2, seed=0)
    # The echo check (two requests) and one scoring request, then chat + scoring for the free-text proposal.
    assert policy.usage.calls == 5
    assert policy.usage.prompt_tokens == first.prompt_tokens + second.prompt_tokens
    assert policy.usage.completion_tokens == first.completion_tokens + second.completion_tokens
    assert policy.usage.seconds > 0


def test_bad_endpoint_settings_raise_config_errors() -> None:
    with pytest.raises(ConfigError, match="base_url must start with http"):
        EndpointClient("127.0.0.1:8000/v1", "m")
    with pytest.raises(ConfigError, match="model must name the served model"):
        EndpointClient("http://127.0.0.1:8000/v1", "")
    with pytest.raises(ConfigError, match="need timeout > 0"):
        EndpointClient("http://127.0.0.1:8000/v1", "m", timeout=0)


def echo_choice(text: str, pieces: list[str], lps: list[float | None], offsets: bool = True) -> dict[str, object]:
    starts = [sum(map(len, pieces[:i])) for i in range(len(pieces))]
    logprobs: dict[str, object] = {"tokens": pieces, "token_logprobs": lps}
    if offsets:
        logprobs["text_offset"] = starts
    return {"index": 0, "text": text, "logprobs": logprobs}


@pytest.mark.parametrize("offsets", [True, False])
def test_echo_scores_add_up_the_tokens_that_cover_the_completion(offsets: bool) -> None:
    # prompt "Say:" + completion " left<end>" tokenized as "Say" ":" " left" "<end>" + one generated token.
    text = "Say: left<end>"
    choice = echo_choice(text + "x", ["Say", ":", " left", "<end>", "x"], [None, -1.0, -2.0, -0.5, -9.0], offsets)
    assert _parse_echo_scores({"choices": [choice]}, [text], start=len("Say:")) == [-2.5]
    # The prompt's trailing space merged into the completion's first token still counts that token.
    assert _parse_echo_scores({"choices": [choice]}, [text], start=len("Say: ")) == [-2.5]


def test_echo_scores_are_none_when_the_prompt_was_not_echoed() -> None:
    generated_only = {"index": 0, "text": "x", "logprobs": {"tokens": ["x"], "token_logprobs": [-1.0]}}
    assert _parse_echo_scores({"choices": [generated_only]}, ["Say: left"], start=4) == [None]
    assert _parse_echo_scores({"choices": []}, ["Say: left"], start=4) == [None]
    assert _parse_echo_scores(["not", "a", "dict"], ["a", "b"], start=0) == [None, None]


# ---------------------------------------------------------------------- servers unlike vLLM
def test_a_server_that_takes_one_prompt_per_request_is_sent_one_after_refusing_a_list(
    openai_server: OpenAIServer,
) -> None:
    expected = [c.logprob for c in policy_on(openai_server).score(CONTEXT, LEGAL).candidates]
    openai_server.reset("ok", "one_prompt")
    policy = policy_on(openai_server, max_retries=3)
    first = policy.score(CONTEXT, LEGAL)
    second = policy.score(CONTEXT, LEGAL)
    assert [c.logprob for c in first.candidates] == pytest.approx(expected, abs=1e-4)
    assert [c.logprob for c in second.candidates] == pytest.approx(expected, abs=1e-4)
    lists = [body for _, body in openai_server.requests if isinstance(body["prompt"], list)]
    assert len(lists) == 1  # refused once (HTTP 500), not retried, and never sent again
    assert len(openai_server.requests) == 2 + 1 + 2 * len(LEGAL)  # the echo check, the list, one per action
    assert policy.client.batch_prompts is False
    assert policy.client.capabilities.endswith("; one prompt per completions request")


def test_echoed_log_probs_shifted_by_a_token_are_not_used_and_ranking_falls_back_to_votes(
    openai_server: OpenAIServer,
) -> None:
    openai_server.reset("ok", "one_prompt", "shifted_echo")
    policy = policy_on(openai_server, max_new_tokens=4)
    proposal = policy.propose(CONTEXT, 3, temperature=1.0, seed=0)
    assert [c.text for c in proposal.candidates] and all(c.logprob is None for c in proposal.candidates)
    assert policy.client.scoring_supported is False
    assert "echoed log-probs do not line up with their tokens" in policy.client.capabilities
    paths = [path for path, _ in openai_server.requests]
    assert paths == ["/v1/completions"] * 2 + ["/v1/chat/completions"]  # the check, then votes: no scoring
    assert openai_server.requests[-1][1]["n"] == policy.vote_samples


def test_the_echo_check_runs_once_per_server_and_says_what_it_found(
    openai_server: OpenAIServer, caplog: pytest.LogCaptureFixture
) -> None:
    policy = policy_on(openai_server)
    assert policy.client.capabilities == "scoring by echoed log-probs not checked yet"
    with caplog.at_level("INFO", logger="practicum.agents.endpoint"):
        policy.score(CONTEXT, LEGAL)
    assert policy.client.scoring_supported is True
    assert policy.client.capabilities == (
        "actions scored by echoed log-probs (checked: echoed log-probs line up with their tokens); "
        "several prompts per completions request"
    )
    assert policy.client.capabilities in caplog.text
    openai_server.requests.clear()
    policy.score(CONTEXT, LEGAL)
    assert len(openai_server.requests) == 1  # known now: no second check


@pytest.mark.parametrize(
    ("traits", "ranking"),
    [
        (SERVERS_LIKE["vllm"], "actions scored by echoed log-probs (checked"),
        (SERVERS_LIKE["llama.cpp"], "actions ranked by votes of sampled replies (the server does not echo"),
        (SERVERS_LIKE["ollama"], "actions ranked by votes of sampled replies (the server does not echo"),
        (("one_prompt",), "actions scored by echoed log-probs (checked"),
        (("one_prompt", "shifted_echo"), "actions ranked by votes of sampled replies (echoed log-probs do not line"),
    ],
    ids=["vllm", "llama.cpp", "ollama", "one-prompt", "one-prompt-shifted"],
)
def test_practicum_run_plays_an_episode_on_servers_like_the_readme_names(
    openai_server: OpenAIServer,
    traits: tuple[str, ...],
    ranking: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    openai_server.reset("ok", *traits)
    url = f"sqlite:///{tmp_path / 'p.db'}"
    args = ["run", "--env", "frozenlake-4x4", "--policy", "tiny", "--endpoint", openai_server.base_url]
    assert main([*args, "--max-steps", "3", "--db", url]) == 0
    out = capsys.readouterr().out
    assert "failure (agent)" in out or "success" in out  # the model's own doing, not the server's (infra)
    (line,) = [line for line in out.splitlines() if line.startswith(f"endpoint {openai_server.base_url}: ")]
    assert ranking in line
    lists = [body for _, body in openai_server.requests if isinstance(body.get("prompt"), list)]
    assert len(lists) <= 1  # a list is sent at most until the server refuses one
    with open_store(url) as store, store.session() as s:
        (episode,) = s.scalars(select(Episode)).all()
        assert line.endswith(episode.info["endpoint"])  # the stored episode says how the server was used
