"""Webhook receivers on loopback that check what each platform checks.

One HTTP server answers for all five platforms, by path: `/wecom`, `/dingtalk`, `/feishu`,
`/slack`, `/teams`. Each request is checked against its platform's payload shape (and
signature, where the platform signs), answered the way the platform answers (success or its
error code), and kept: channel, idempotency key, payload. Used by the channel tests, the
several-workers delivery test and the benchmark.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

SECRETS = {"dingtalk": "SECdingtalk-test-secret", "feishu": "feishu-test-secret"}
# How far a signed timestamp may be from the receiver's clock (both platforms allow an hour).
SKEW_SECONDS = 3600


@dataclass
class Received:
    channel: str
    key: str
    payload: dict[str, Any]


@dataclass
class Receivers:
    server: ThreadingHTTPServer
    received: list[Received] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    # A channel listed here answers with the platform's error (to test retries).
    failing: set[str] = field(default_factory=set)

    @property
    def base(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    def url(self, channel: str) -> str:
        queries = {"wecom": "?key=robot-key", "dingtalk": "?access_token=robot-token"}
        return f"{self.base}/{channel}{queries.get(channel, '')}"

    def keys(self) -> Counter[str]:
        with self.lock:
            return Counter(item.key for item in self.received)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def start() -> Receivers:
    holder: dict[str, Receivers] = {}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            return

        def do_POST(self) -> None:
            receivers = holder["r"]
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            parts = urlsplit(self.path)
            channel = parts.path.strip("/")
            try:
                payload = json.loads(body)
                problem = _check(channel, payload, parse_qs(parts.query), self.headers)
            except ValueError as error:
                payload, problem = {}, f"not JSON: {error}"
            key = self.headers.get("Idempotency-Key", "")
            if not key:
                problem = problem or "no Idempotency-Key header"
            if channel in receivers.failing:
                problem = problem or "failing on purpose"
            if problem:
                with receivers.lock:
                    receivers.refused.append((channel, problem))
                status, answer = _refusal(channel, problem)
            else:
                with receivers.lock:
                    receivers.received.append(Received(channel, key, payload))
                status, answer = _success(channel)
            self.send_response(status)
            self.send_header("Content-Length", str(len(answer)))
            self.send_header(
                "Content-Type", "application/json" if answer[:1] == b"{" else "text/plain"
            )
            self.end_headers()
            self.wfile.write(answer)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    receivers = Receivers(server=server)
    holder["r"] = receivers
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return receivers


def _check(channel: str, payload: dict[str, Any], query: dict[str, list[str]], headers: Any) -> str:
    if channel == "wecom":
        if query.get("key") != ["robot-key"]:
            return "invalid webhook url"
        text = payload.get("text", {})
        if payload.get("msgtype") != "text" or not isinstance(text.get("content"), str):
            return "not a text message"
        if len(text["content"].encode()) > 2048:
            return "content exceeds 2048 bytes"
        return ""
    if channel == "dingtalk":
        stamp, sign = query.get("timestamp", [""])[0], query.get("sign", [""])[0]
        if query.get("access_token") != ["robot-token"]:
            return "token is not exist"
        if not stamp.isdigit() or abs(int(stamp) / 1000 - time.time()) > SKEW_SECONDS:
            return "timestamp is not in the window"
        secret = SECRETS["dingtalk"]
        expected = hmac.new(secret.encode(), f"{stamp}\n{secret}".encode(), hashlib.sha256).digest()
        if sign != base64.b64encode(expected).decode():
            return "sign not match"
        markdown = payload.get("markdown", {})
        if (
            payload.get("msgtype") != "markdown"
            or not markdown.get("title")
            or not markdown.get("text")
        ):
            return "not a markdown message"
        if not isinstance(payload.get("at", {}).get("atMobiles", []), list):
            return "at.atMobiles is not a list"
        return ""
    if channel == "feishu":
        stamp, sign = str(payload.get("timestamp", "")), str(payload.get("sign", ""))
        if not stamp.isdigit() or abs(int(stamp) - time.time()) > SKEW_SECONDS:
            return "timestamp is not in the window"
        secret = SECRETS["feishu"]
        expected = hmac.new(f"{stamp}\n{secret}".encode(), b"", hashlib.sha256).digest()
        if sign != base64.b64encode(expected).decode():
            return "sign match fail or timestamp is not within one hour from current time"
        post = payload.get("content", {}).get("post", {})
        if payload.get("msg_type") != "post" or not post:
            return "not a post message"
        for body in post.values():
            if not body.get("title") or not isinstance(body.get("content"), list):
                return "post without title or content"
        return ""
    if channel == "slack":
        if not isinstance(payload.get("text"), str) or not isinstance(payload.get("blocks"), list):
            return "invalid_payload"
        return ""
    if channel == "teams":
        attachments = payload.get("attachments") or []
        if payload.get("type") != "message" or not attachments:
            return "not a message with attachments"
        card = attachments[0]
        if card.get("contentType") != "application/vnd.microsoft.card.adaptive":
            return "not an adaptive card"
        if card.get("content", {}).get("type") != "AdaptiveCard":
            return "card without type"
        return ""
    return f"unknown path {channel}"


def _success(channel: str) -> tuple[int, bytes]:
    if channel in ("wecom", "dingtalk"):
        return 200, b'{"errcode":0,"errmsg":"ok"}'
    if channel == "feishu":
        return 200, b'{"code":0,"msg":"success","data":{}}'
    if channel == "slack":
        return 200, b"ok"
    return 202, b""


def _refusal(channel: str, problem: str) -> tuple[int, bytes]:
    # The robots answer 200 with an error code in the body; Slack and Teams use HTTP status.
    if channel in ("wecom", "dingtalk"):
        return 200, json.dumps({"errcode": 310000, "errmsg": problem}).encode()
    if channel == "feishu":
        return 200, json.dumps({"code": 19021, "msg": problem}).encode()
    return 400, problem.encode()
