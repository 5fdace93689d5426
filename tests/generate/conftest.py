"""A small OpenAI-compatible chat server on 127.0.0.1 (a thread in the test process).

It answers like a cooperative LLM for the three generation pipelines, so their HTTP path runs
for real: question variants, vague answers (the first round, seed 0, leaks the original answer;
later rounds are vague), a Yes/No leakage judgement (Yes when the judged text has a digit or an
"@"), MEOW's inverted answers (with the usual chatter and numbering). It counts requests, can
fail the first ``fail_first`` requests with HTTP 500 and every request after ``fail_after``
successes with HTTP 400, and records each request's Authorization header.
"""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


class FakeLLM:
    def __init__(self) -> None:
        self.count = 0
        self.fail_first = 0
        self.fail_after: int | None = None
        self.successes = 0
        self.auth: list[str | None] = []
        self.payloads: list[dict] = []
        self.choices_per_request: int | None = None  # None: honour "n"
        self.lock = threading.Lock()

    def reply(self, payload: dict, index: int) -> str:
        text = payload["messages"][-1]["content"]
        seed = payload.get("seed", 0)
        if "rewritten question only" in text or "modified question only" in text:
            q = text.split("Question:\n", 1)[1].split("\n\n", 1)[0]
            kinds = {"different words": "plainly", "more specific": "precisely",
                     "grammar": "informally", "reverse": "conversely"}  # fmt: skip
            how = next(v for k, v in kinds.items() if k in text)
            return f"Question: {how}, {q.rstrip('?')}?"
        if "Original answer:" in text:
            answer = text.split("Original answer: ", 1)[1].split("\n\n", 1)[0]
            return answer if seed == 0 else "That is a private matter, not shared publicly."
        if text.startswith("Does the sentence"):
            judged = text.split("'", 2)[1]
            leak = bool(re.search(r"[0-9@]", judged))
            return f"Let me think step by step. Final answer: {'Yes' if leak else 'No'}"
        if (
            payload["messages"][0]["role"] == "system"
            and "do not factually match" in (payload["messages"][0]["content"])
        ):
            return (
                "Sure! Here are the answers:\n1. In Vesby.\n2. In Ostby.\n- In Nordby.\n\nIn Lumen."
            )
        return f"completion {index} seed {seed}"


class _Handler(BaseHTTPRequestHandler):
    llm: FakeLLM

    def log_message(self, *args) -> None:  # keep test output clean
        pass

    def do_POST(self) -> None:  # noqa: N802
        llm = self.server.llm  # type: ignore[attr-defined]
        payload = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        with llm.lock:
            llm.count += 1
            llm.auth.append(self.headers.get("Authorization"))
            llm.payloads.append(payload)
            fail = llm.count <= llm.fail_first or (
                llm.fail_after is not None and llm.successes >= llm.fail_after
            )
            if not fail:
                llm.successes += 1
        if fail:
            status = 500 if llm.count <= llm.fail_first else 400
            self.send_response(status)
            self.end_headers()
            self.wfile.write(b'{"error": "scripted failure"}')
            return
        n = llm.choices_per_request or payload.get("n", 1)
        body = {
            "choices": [
                {"index": i, "message": {"role": "assistant", "content": llm.reply(payload, i)}}
                for i in range(n)
            ]
        }
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture()
def llm_server():
    """(base_url, FakeLLM) of a server on a free loopback port, shut down after the test."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.llm = FakeLLM()  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1", server.llm  # type: ignore[attr-defined]
    server.shutdown()
    server.server_close()
