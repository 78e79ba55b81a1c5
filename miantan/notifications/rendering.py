"""Wording a notification at send time, in the recipient's language and time zone, and
showing it in the in-app inbox.

The app that queues a kind of notification registers, per object type, a function that loads
what the templates need (`register_context`) and one that gives the page the message is about
(`register_link`), both called from that app's messages.py. Templates are
`notifications/<kind>_subject.txt` and `_body.txt` (dots in the kind become underscores),
falling back to the ones named after the kind's first part ("talk"). An inbox row is worded
with `_inbox.txt` where there is one: the same facts without what only a mail needs (the
attachment, the full address of the page).
"""

from __future__ import annotations

import email
import email.policy
import quopri
import re
from collections.abc import Callable
from dataclasses import dataclass
from email.header import decode_header, make_header
from email.message import EmailMessage, Message
from typing import Any
from urllib.parse import urlsplit

from django.template.loader import select_template
from django.utils import timezone, translation
from django.utils.functional import Promise

from .enums import Channel
from .models import Notification

ContextBuilder = Callable[[Notification], dict[str, Any] | None]
LinkBuilder = Callable[[Notification], str]

_builders: dict[str, ContextBuilder] = {}
_links: dict[str, tuple[LinkBuilder, Promise]] = {}
# An inbox entry shows this many lines of its text; the page it links to has the rest.
INBOX_LINES = 8


def register_context(object_type: str, builder: ContextBuilder) -> None:
    """`builder(notification)` returns the template context, or None when the message is
    no longer worth sending (the object is gone, or has moved on)."""
    _builders[object_type] = builder


def register_link(object_type: str, builder: LinkBuilder, label: Promise) -> None:
    """`builder(notification)` returns the path of the page the message is about ("" for
    none); the inbox links to it with `label` ("Open the talk")."""
    _links[object_type] = (builder, label)


def render(notification: Notification) -> tuple[str, str] | None:
    """(subject, body) in the recipient's language and time zone; None to drop the message."""
    recipient = notification.recipient
    with translation.override(recipient.language), timezone.override(recipient.time_zone):
        context: dict[str, Any] = {
            **notification.context,
            "notification": notification,
            "recipient": recipient,
            "time_zone": recipient.time_zone,
            "channel": notification.channel,
        }
        builder = _builders.get(notification.object_type)
        if builder is not None:
            extra = builder(notification)
            if extra is None:
                return None
            context.update(extra)
        subject = select_template(_names(notification.kind, "subject")).render(context)
        parts = ("inbox", "body") if notification.channel == Channel.INBOX else ("body",)
        names = [name for part in parts for name in _names(notification.kind, part)]
        body = select_template(names).render(context)
    return " ".join(subject.split())[:255], body.strip() + "\n"


def _names(kind: str, part: str) -> list[str]:
    names = [f"notifications/{kind.replace('.', '_')}_{part}.txt"]
    family = kind.split(".", 1)[0]
    if family != kind:
        names.append(f"notifications/{family}_{part}.txt")
    return names


def link_of(notification: Notification) -> tuple[str, str]:
    """(path of the page the message is about, label of a link to it), or ("", "")."""
    registered = _links.get(notification.object_type)
    if registered is None or not notification.object_id:
        return "", ""
    builder, label = registered
    with translation.override(notification.recipient.language):
        path = builder(notification)
        return (path, str(label)) if path else ("", "")


# --- the inbox ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class InboxEntry:
    """A message as the inbox shows it: its subject, a few lines of plain text and the page
    it is about."""

    notification: Notification
    subject: str
    lines: list[str]
    more: bool
    link: str = ""
    link_label: str = ""


def inbox_entry(notification: Notification) -> InboxEntry:
    lines = readable_text(notification.body).strip().splitlines()
    link, label = "", ""
    registered = _links.get(notification.object_type)
    if registered is not None and notification.object_id:
        builder, label = registered[0], str(registered[1])
        link = builder(notification)
    if link:
        lines = [line for line in lines if not _points_to(line, link)]
    while lines and not lines[-1].strip():
        lines.pop()
    return InboxEntry(
        notification=notification,
        subject=" ".join(readable_text(notification.subject).split()) or notification.kind,
        lines=lines[:INBOX_LINES],
        more=len(lines) > INBOX_LINES,
        link=link,
        link_label=label if link else "",
    )


_MIME_HEADERS = ("mime-version:", "content-type:", "content-transfer-encoding:")
_QUOTED_PRINTABLE = re.compile(r"(?:=[0-9A-F]{2}){2,}|=\r?\n")
_ADDRESS_AT_END = re.compile(r"https?://\S+$")


def readable_text(text: str) -> str:
    """Plain text as a person reads it: a whole mail (headers and MIME parts) becomes the
    text of its plain part; quoted-printable text and encoded words are decoded."""
    if not text:
        return ""
    first_lines = text.lstrip()[:2000].lower().splitlines()[:30]
    if any(line.startswith(_MIME_HEADERS) for line in first_lines):
        # Parsed from bytes: from a str the parser mangles an 8-bit body that is not ASCII.
        whole = text.lstrip().encode("utf-8", "surrogateescape")
        return _plain_part(email.message_from_bytes(whole, policy=email.policy.default))
    if _QUOTED_PRINTABLE.search(text):
        text = quopri.decodestring(text.encode("utf-8")).decode("utf-8", "replace")
    if "=?" in text and "?=" in text:
        text = str(make_header(decode_header(text)))
    return text


def _plain_part(message: Message) -> str:
    for part in message.walk():
        if part.get_content_type() == "text/plain" and not part.get_filename():
            assert isinstance(part, EmailMessage)  # parsed with the default policy
            return str(part.get_content())
    return ""


def _points_to(line: str, link: str) -> bool:
    """The line gives the address of the page the entry links to ("Open the talk: https://…")."""
    found = _ADDRESS_AT_END.search(line.strip())
    return found is not None and urlsplit(found.group()).path == link
