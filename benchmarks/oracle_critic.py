"""An oracle critic for tic-tac-toe behind an OpenAI-compatible endpoint: the upper bound of self-critique.

The learning benchmark's default critic is the 135M policy itself. To measure what a critic that knows the
game would change, this server answers practicum's critic questions (`POST /v1/chat/completions`, one proposed move per
request) from the exact value of every move against the suite's opponent
(`practicum.envs.games.tictactoe.move_values`): the first token's `top_logprobs` give "Yes" the probability
`exp(sharpness * (value(move) - best value))` and "No" the rest, so the best move scores 1 and the critic
ranks moves by their true values.
practicum talks to it as to any served critic (`critic: {backend: {model: ..., base_url: ...}}`); nothing
in the package knows it exists.

    with OracleCritic() as oracle:
        settings["critic"] = {"backend": {"model": oracle.model_name, "base_url": oracle.api_root}}
"""

from __future__ import annotations

import json
import math
import re
import sys
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # practicum, from a checkout without installing
from practicum.envs.games.tictactoe import board_from_text, move_values
from practicum.envs.web.server import LocalServer

PROPOSED = re.compile(r"Proposed action:\n(\S+)")


def answer(body: dict[str, Any], sharpness: float) -> dict[str, Any]:
    """The chat completion for one critic question: Yes or No, with both words' log-probs."""
    messages = body.get("messages") or []
    content = str(messages[-1].get("content", "")) if messages else ""
    values = move_values(board_from_text(content) or "")
    proposed = PROPOSED.search(content)
    if not values or proposed is None or proposed.group(1) not in values:
        # Not a tic-tac-toe critic question: a reply without log-probs (the critic counts it invalid).
        return {"choices": [{"index": 0, "message": {"role": "assistant", "content": "?"}}]}
    yes = min(max(math.exp(sharpness * (values[proposed.group(1)] - max(values.values()))), 1e-6), 1 - 1e-6)
    top = [{"token": "Yes", "logprob": math.log(yes)}, {"token": "No", "logprob": math.log1p(-yes)}]
    best = max(top, key=lambda t: t["logprob"])
    return {
        "object": "chat.completion",
        "model": body.get("model", ""),
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": best["token"]},
                "logprobs": {"content": [{**best, "top_logprobs": top}]},
                "finish_reason": "length",
            }
        ],
        "usage": {"prompt_tokens": 0, "completion_tokens": 1},
    }


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        oracle: OracleCritic = self.server.app  # type: ignore[attr-defined]  # set by LocalServer
        length = int(self.headers.get("Content-Length", "0"))
        body = json.loads(self.rfile.read(length) or b"{}")
        oracle.requests += 1
        data = json.dumps(answer(body, oracle.sharpness)).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class OracleCritic(LocalServer):
    """The oracle on 127.0.0.1 and a free port, in a background thread, until `stop()` (or the `with` ends)."""

    model_name = "tictactoe-oracle"

    def __init__(self, sharpness: float = 10.0) -> None:
        super().__init__(_Handler)
        self.sharpness = sharpness
        self.requests = 0

    @property
    def api_root(self) -> str:
        """The OpenAI-style API root, e.g. `http://127.0.0.1:43123/v1`."""
        return f"{self.base_url}/v1"
