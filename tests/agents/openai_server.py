"""A small OpenAI-compatible HTTP server for tests, backed by a real (tiny) transformers model.

It serves `POST /v1/completions` (with `echo` + `logprobs`: the log-prob of every prompt token, like vLLM)
and `POST /v1/chat/completions` (sampling with `logprobs` / `top_logprobs`) on 127.0.0.1, in a thread.
`mode` switches it into the ways real servers misbehave, so each client path can be tested:

- "ok": answers properly;
- "not_json": 200 with an HTML body; "bad_shape": 200 with JSON that has no `choices`;
- "error": always HTTP 500; "flaky": HTTP 500 for the first `fail_first` requests, then ok;
- "slow": sleeps `delay` seconds before answering (to trip client timeouts);
- "no_logprobs": ignores `echo` and `logprobs` (llama.cpp/Ollama-like), answers text only;
- "refuse_echo": HTTP 400 on completions with `echo` (some hosted APIs);
- "prose": chat replies are a fixed sentence without log-probs;
- "ignore_n": returns one chat reply whatever `n` asks for;
- "scripted": chat replies are `scripted` in turn, and nothing has log-probs (a fake model: only for testing
  what the client does with given replies, such as vote counting);
- "verdicts": chat replies to the critic's question about one proposed action are `verdicts[action]` (PROSE
  for an action not in it), without log-probs, like a server that answers in text only.

`traits` add behaviours of real servers on top of the mode, and combine:
- "one_prompt": a completions request whose `prompt` is a list answers HTTP 500 (llama.cpp builds and Ollama
  take one prompt per request);
- "no_echo": completions ignore `echo` and answer the generated text only (llama.cpp), chat keeps log-probs;
- "shifted_echo": echoed prompt log-probs are shifted by one token against the tokens they name (each prompt
  token carries the next token's log-prob; the generated token's own is right);
- "no_logprobs", "ignore_n": as the modes of those names.
`SERVERS_LIKE` names the traits of the servers the README says practicum works with.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import torch

from practicum.agents import prompts
from practicum.agents.local import LocalModel

PROSE = "Well, all of these look reasonable to me, it depends on what you want."

# What the servers the README names do that matters to the client (their OpenAI-compatible APIs, as of the
# builds these mimic): vLLM takes lists and echoes prompt log-probs; llama.cpp's server takes one prompt per
# request, ignores `echo` and `n` but returns chat log-probs; Ollama takes one prompt, ignores `n`, and returns
# no log-probs at all.
SERVERS_LIKE: dict[str, tuple[str, ...]] = {
    "vllm": (),
    "llama.cpp": ("one_prompt", "no_echo", "ignore_n"),
    "ollama": ("one_prompt", "no_logprobs", "ignore_n"),
}


class OpenAIServer:
    """Serve `model` as `model_name` at `base_url` (`http://127.0.0.1:<port>/v1`) until `stop()`."""

    def __init__(self, model: LocalModel, model_name: str = "tiny") -> None:
        self.model = model
        self.model_name = model_name
        self.mode = "ok"
        self.traits: set[str] = set()
        self.fail_first = 2
        self.delay = 1.0
        self.scripted: list[str] = []
        self.verdicts: dict[str, str] = {}
        self.requests: list[tuple[str, dict[str, Any]]] = []
        self._lock = threading.Lock()  # one model call at a time; the client is sequential anyway
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(length) or b"{}")
                server.requests.append((self.path, body))
                status, payload = server.answer(self.path, body)
                data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):  # the client timed out and left
                    pass

            def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        """The API root, e.g. `http://127.0.0.1:43123/v1`."""
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    def start(self) -> OpenAIServer:
        """Start serving in a background thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._httpd.shutdown()
        self._httpd.server_close()

    def reset(self, mode: str = "ok", *traits: str) -> None:
        """Switch mode and traits (see the module docstring) and forget earlier requests."""
        self.mode = mode
        self.traits = set(traits)
        self.requests.clear()

    def _has(self, behaviour: str) -> bool:
        return self.mode == behaviour or behaviour in self.traits

    # ------------------------------------------------------------------ answers
    def answer(self, path: str, body: dict[str, Any]) -> tuple[int, Any]:
        """The HTTP status and JSON (or raw bytes) for one request, according to `mode`."""
        if self.mode == "error" or (self.mode == "flaky" and len(self.requests) <= self.fail_first):
            return 500, {"error": {"message": "internal error (test server)"}}
        if self.mode == "slow":
            time.sleep(self.delay)
        if self.mode == "not_json":
            return 200, b"<html><body>502 Bad Gateway</body></html>"
        if self.mode == "bad_shape":
            return 200, {"object": "error", "detail": "something odd"}
        if body.get("model") != self.model_name:
            return 404, {"error": {"message": f"model {body.get('model')!r} not found"}}
        with self._lock:
            if path == "/v1/completions":
                return self._completions(body)
            if path == "/v1/chat/completions":
                return 200, self._chat(body)
        return 404, {"error": {"message": f"no route {path}"}}

    def _completions(self, body: dict[str, Any]) -> tuple[int, Any]:
        if isinstance(body["prompt"], list) and self._has("one_prompt"):
            return 500, {"error": {"message": "'prompt' must be a string (this server takes one per request)"}}
        prompts = body["prompt"] if isinstance(body["prompt"], list) else [body["prompt"]]
        ignored = self._has("no_logprobs") or self._has("no_echo") or self.mode == "scripted"
        echo = bool(body.get("echo")) and not ignored
        if body.get("echo") and self.mode == "refuse_echo":
            return 400, {"error": {"message": "echo is not supported"}}
        choices, prompt_tokens = [], 0
        for index, text in enumerate(prompts):
            enc = self.model.tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
            ids = enc["input_ids"]
            prompt_tokens += len(ids)
            with torch.inference_mode():
                logits = self.model.model(input_ids=torch.tensor([ids])).logits[0].float()
            logp = torch.log_softmax(logits, dim=-1)
            generated = int(logits[-1].argmax())
            gen_text = self.model.tokenizer.decode([generated])
            choice: dict[str, Any] = {"index": index, "finish_reason": "length", "logprobs": None}
            if echo and body.get("logprobs") is not None:
                token_lps: list[float | None] = [None] + [float(logp[i - 1, ids[i]]) for i in range(1, len(ids))]
                gen_lp = float(logp[-1, generated])
                if self._has("shifted_echo"):  # each prompt token carries the next one's log-prob
                    token_lps = [*token_lps[1:], gen_lp]
                choice["text"] = text + gen_text
                choice["logprobs"] = {
                    "tokens": [*(self.model.tokenizer.decode([i]) for i in ids), gen_text],
                    "token_logprobs": [*token_lps, gen_lp],
                    "text_offset": [*(start for start, _ in enc["offset_mapping"]), len(text)],
                    "top_logprobs": None,
                }
            elif int(body.get("max_tokens", 16)) > 1:  # a real completion: sample, stop at `stop`
                sample = self.model.sample(
                    text,
                    1,
                    temperature=float(body.get("temperature", 1.0)),
                    max_new_tokens=int(body["max_tokens"]),
                    seed=int(body.get("seed", 0)),
                )[0]
                choice["text"] = sample.text
                for stop in body.get("stop") or []:
                    choice["text"] = choice["text"].split(stop, 1)[0]
            else:
                choice["text"] = gen_text
            choices.append(choice)
        usage = {"prompt_tokens": prompt_tokens, "completion_tokens": len(prompts)}
        return 200, {"object": "text_completion", "model": self.model_name, "choices": choices, "usage": usage}

    def _chat(self, body: dict[str, Any]) -> dict[str, Any]:
        prompt = self.model.render(body["messages"])
        n = 1 if self._has("ignore_n") else int(body.get("n", 1))
        if self.mode in {"prose", "scripted", "verdicts"}:
            if self.mode == "verdicts":
                replies = [self.verdicts.get(self._proposed_action(body["messages"]) or "", PROSE)] * n
            else:
                replies = [PROSE] if self.mode == "prose" else (self.scripted * n)[:n]
            choices = [
                {"index": i, "message": {"role": "assistant", "content": text}, "logprobs": None}
                for i, text in enumerate(replies)
            ]
            return {"object": "chat.completion", "choices": choices, "usage": {"prompt_tokens": 1}}
        samples = self.model.sample(
            prompt,
            n,
            temperature=float(body.get("temperature", 1.0)),
            max_new_tokens=int(body.get("max_tokens", 16)),
            seed=int(body.get("seed", 0)),
        )
        want_logprobs = bool(body.get("logprobs")) and not self._has("no_logprobs")
        top_n = int(body.get("top_logprobs") or 0)
        prompt_ids = self.model.encode(prompt)
        choices = []
        for index, sample in enumerate(samples):
            choice: dict[str, Any] = {
                "index": index,
                "message": {"role": "assistant", "content": sample.text},
                "finish_reason": "stop" if sample.finished else "length",
                "logprobs": None,
            }
            if want_logprobs:
                choice["logprobs"] = {"content": self._token_logprobs(prompt_ids, sample.text, top_n)}
            choices.append(choice)
        usage = {"prompt_tokens": len(prompt_ids), "completion_tokens": sum(s.tokens for s in samples)}
        return {"object": "chat.completion", "model": self.model_name, "choices": choices, "usage": usage}

    @staticmethod
    def _proposed_action(messages: list[dict[str, str]]) -> str | None:
        """The action a critic question asks about (the line after `prompts.JUDGE_LEAD`), or None."""
        content = messages[-1].get("content", "") if messages else ""
        _, found, rest = content.partition(prompts.JUDGE_LEAD)
        return rest.split("\n", 1)[0] if found else None

    def _token_logprobs(self, prompt_ids: list[int], text: str, top_n: int) -> list[dict[str, Any]]:
        """Per-token log-probs of a reply (and the top alternatives), OpenAI's chat `logprobs.content`."""
        reply = self.model.encode(text) or [self.model.eos_id]
        with torch.inference_mode():
            logits = self.model.model(input_ids=torch.tensor([prompt_ids + reply])).logits[0].float()
        logp = torch.log_softmax(logits, dim=-1)
        content = []
        for j, token in enumerate(reply):
            row = logp[len(prompt_ids) - 1 + j]
            top = torch.topk(row, top_n) if top_n else None
            content.append(
                {
                    "token": self.model.tokenizer.decode([token]),
                    "logprob": float(row[token]),
                    "top_logprobs": []
                    if top is None
                    else [
                        {"token": self.model.tokenizer.decode([int(i)]), "logprob": float(v)}
                        for v, i in zip(top.values, top.indices, strict=True)
                    ],
                }
            )
        return content
