"""Group robots and incoming webhooks: each platform's own payload, signature and answer.

- WeCom (企业微信) group robot: a `text` message, the recipient @-mentioned by mobile number;
  it answers `{"errcode": 0}`.
- DingTalk (钉钉) robot: a `markdown` message with `at.atMobiles`; with a signing secret the
  address gets `timestamp` (milliseconds) and `sign` = Base64(HMAC-SHA256(key=secret,
  message="{timestamp}\\n{secret}")), URL-encoded; it answers `{"errcode": 0}`.
- Feishu (飞书) robot: a `post` message in the recipient's language; with a signing secret the
  body carries `timestamp` (seconds) and `sign` = Base64(HMAC-SHA256(key="{timestamp}\\n
  {secret}", message="")); it answers `{"code": 0}`.
- Slack incoming webhook: `text` with `blocks`; it answers `ok`.
- Microsoft Teams (Workflows) webhook: a message with an Adaptive Card; it answers 200 or 202.

Every request carries the row's idempotency key in an `Idempotency-Key` header, so a receiver
that keeps them can drop a repeat. Answers that are not a success raise `WebhookRefused`, and
the row is retried with backoff like a mail the server refused.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import urllib3

from .enums import Channel

# WeCom refuses text over 2,048 bytes and DingTalk markdown over 5,000 characters; a message
# is cut to fit, ending with the link to the page that has the rest.
_TEXT_LIMIT = 1800


class WebhookRefused(Exception):
    """The platform answered, but not with success."""


@dataclass(frozen=True)
class Outgoing:
    """A message as a webhook posts it."""

    subject: str
    body: str
    key: str
    link: str = ""
    link_label: str = ""
    language: str = "zh-hans"
    mobiles: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Request:
    url: str
    body: bytes
    headers: dict[str, str]


def request_for(channel: str, message: Outgoing, *, url: str, secret: str = "") -> Request:
    """The HTTP request that posts `message` to `url` on `channel`."""
    now = time.time()
    builders = {
        Channel.WECOM: _wecom,
        Channel.DINGTALK: _dingtalk,
        Channel.FEISHU: _feishu,
        Channel.SLACK: _slack,
        Channel.TEAMS: _teams,
    }
    payload, url = builders[Channel(channel)](message, url, secret, now)
    return Request(
        url=url,
        body=json.dumps(payload, ensure_ascii=False).encode("utf-8"),
        headers={
            "Content-Type": "application/json; charset=utf-8",
            "Idempotency-Key": message.key,
        },
    )


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    digest = hmac.new(
        secret.encode("utf-8"), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256
    ).digest()
    return base64.b64encode(digest).decode("ascii")


def feishu_sign(secret: str, timestamp_s: int) -> str:
    digest = hmac.new(f"{timestamp_s}\n{secret}".encode(), b"", hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


class Poster:
    """Posts requests over pooled connections, one pool per worker."""

    def __init__(self, timeout: float) -> None:
        self.pool = urllib3.PoolManager(
            timeout=urllib3.Timeout(connect=timeout, read=timeout), retries=False
        )

    def post(self, channel: str, request: Request) -> None:
        answer = self.pool.request(
            "POST", request.url, body=request.body, headers=request.headers, redirect=False
        )
        check_answer(channel, answer.status, answer.data)

    def close(self) -> None:
        self.pool.clear()


def check_answer(channel: str, status: int, data: bytes) -> None:
    """Raise WebhookRefused unless the platform's answer means the message was accepted."""
    if status not in (200, 201, 202, 204):
        raise WebhookRefused(f"HTTP {status}: {data[:200].decode('utf-8', 'replace')}")
    if channel in (Channel.WECOM, Channel.DINGTALK, Channel.FEISHU):
        try:
            answer: Any = json.loads(data or b"{}")
        except ValueError as error:
            raise WebhookRefused("the answer is not JSON") from error
        code = answer.get("errcode", answer.get("code", answer.get("StatusCode", 0)))
        if code not in (0, None):
            message = answer.get("errmsg") or answer.get("msg") or answer.get("StatusMessage")
            raise WebhookRefused(f"code {code}: {message}")


# --- payloads ---------------------------------------------------------------------------------


def _text(message: Outgoing) -> str:
    text = message.body.strip()
    if len(text) > _TEXT_LIMIT:
        text = text[:_TEXT_LIMIT].rstrip() + " …"
    return text


def _wecom(message: Outgoing, url: str, secret: str, now: float) -> tuple[dict[str, Any], str]:
    lines = [message.subject, "", _text(message)]
    if message.link:
        lines += ["", f"{message.link_label}: {message.link}"]
    text: dict[str, Any] = {"content": "\n".join(lines)}
    if message.mobiles:
        text["mentioned_mobile_list"] = message.mobiles
    return {"msgtype": "text", "text": text}, url


def _dingtalk(message: Outgoing, url: str, secret: str, now: float) -> tuple[dict[str, Any], str]:
    if secret:
        stamp = int(now * 1000)
        url = _with_query(url, f"timestamp={stamp}&sign={quote(dingtalk_sign(secret, stamp))}")
    text = f"#### {message.subject}\n\n{_text(message)}"
    if message.link:
        text += f"\n\n[{message.link_label}]({message.link})"
    if message.mobiles:
        # DingTalk shows the mention only when the number is in the text as well.
        text += "\n\n" + " ".join(f"@{mobile}" for mobile in message.mobiles)
    payload = {
        "msgtype": "markdown",
        "markdown": {"title": message.subject, "text": text},
        "at": {"atMobiles": message.mobiles, "isAtAll": False},
    }
    return payload, url


def _feishu(message: Outgoing, url: str, secret: str, now: float) -> tuple[dict[str, Any], str]:
    lines: list[list[dict[str, str]]] = [
        [{"tag": "text", "text": line}] for line in _text(message).splitlines() if line.strip()
    ]
    if message.link:
        lines.append([{"tag": "a", "text": message.link_label, "href": message.link}])
    language = "en_us" if message.language == "en" else "zh_cn"
    payload: dict[str, Any] = {
        "msg_type": "post",
        "content": {"post": {language: {"title": message.subject, "content": lines}}},
    }
    if secret:
        stamp = int(now)
        payload = {"timestamp": str(stamp), "sign": feishu_sign(secret, stamp), **payload}
    return payload, url


def _slack(message: Outgoing, url: str, secret: str, now: float) -> tuple[dict[str, Any], str]:
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": message.subject[:150]}},
        {"type": "section", "text": {"type": "mrkdwn", "text": _slack_escape(_text(message))}},
    ]
    if message.link:
        blocks.append(
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "text": {"type": "plain_text", "text": message.link_label[:75]},
                        "url": message.link,
                    }
                ],
            }
        )
    return {"text": message.subject, "blocks": blocks}, url


def _teams(message: Outgoing, url: str, secret: str, now: float) -> tuple[dict[str, Any], str]:
    card: dict[str, Any] = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": [
            {"type": "TextBlock", "text": message.subject, "weight": "Bolder", "wrap": True},
            {"type": "TextBlock", "text": _text(message), "wrap": True},
        ],
    }
    if message.link:
        card["actions"] = [
            {"type": "Action.OpenUrl", "title": message.link_label, "url": message.link}
        ]
    payload = {
        "type": "message",
        "attachments": [
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": None,
                "content": card,
            }
        ],
    }
    return payload, url


def _slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _with_query(url: str, extra: str) -> str:
    parts = urlsplit(url)
    query = f"{parts.query}&{extra}" if parts.query else extra
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))
