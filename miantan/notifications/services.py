"""Queuing and delivering notifications.

Queuing: `notify` (one message) and `queue_many` (many, in a fixed number of queries) write
due rows, one per channel the recipient chose, idempotent on the message's key.
`cancel_pending` withdraws rows that are no longer wanted.

Delivery (`deliver_due`, the worker loop), with these guarantees:
- Claim: a worker takes due rows with `SELECT … FOR UPDATE SKIP LOCKED` (PostgreSQL; SQLite's
  write lock queues the workers) and a conditional UPDATE, under a lease on the database's
  clock that its heartbeat renews while it works. Two workers never hold the same row; a row
  of a worker that died is taken over once its lease ran out. A worker's own clock jumping
  does not end anyone's lease.
- Attempt before send: just before a send the worker commits `sending_since` and one more
  attempt, on the condition that the row is still its own; a row it lost is not sent.
- Idempotency key: every send of a row carries the same key (the mail's Message-ID; an
  `Idempotency-Key` header on webhooks), and no other row has it.
So in normal operation, with restarts and several workers, each row is sent once. A worker
killed between a receiver accepting a message and the worker writing `sent_at` leaves that
one row in flight; once its lease has run out another worker sends it again, with the same
key. Nothing is lost: failures are retried with backoff, and after the last attempt the row is
given up (`failed_at`), listed for administrators, who may send it again.

Quiet hours, rest after night shifts and digests: preferences.py.
"""

from __future__ import annotations

import hashlib
import html
import logging
import re
import threading
import uuid
from collections import defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.mime.text import MIMEText
from email.utils import formataddr
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import connection, connections, transaction
from django.db.models import F, Model, Q, QuerySet
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from miantan.audit.enums import Outcome
from miantan.audit.services import record as audit
from miantan.core.clock import DatabaseClock, database_now
from miantan.core.errors import InvalidFields
from miantan.people.models import Department, Employee
from miantan.people.scopes import scope_for

from . import preferences as prefs
from . import rules
from .enums import DEFAULT_CHANNELS, PUSH_CHANNELS, WEBHOOK_CHANNELS, Channel
from .models import Endpoint, Notification, Preference
from .rendering import link_of, render
from .webhooks import Outgoing, Poster, request_for

logger = logging.getLogger(__name__)

# Waits after the 1st, 2nd, … failed attempt; after the last one the row is given up.
BACKOFF = (
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=12),
)
MAX_ATTEMPTS = len(BACKOFF) + 1
# `channels=CHOSEN` (the default): the channels the recipient chose.
CHOSEN = None


def lease() -> timedelta:
    return timedelta(seconds=settings.MIANTAN_NOTIFICATION_LEASE_SECONDS)


def send_timeout() -> float:
    """A send gives up well before the lease could run out under it."""
    return max(1.0, settings.MIANTAN_NOTIFICATION_LEASE_SECONDS / 4)


@dataclass(frozen=True)
class CalendarFile:
    """An ICS file sent with a mail (`method` REQUEST or CANCEL, as in its METHOD line)."""

    content: bytes
    method: str


@dataclass
class Message:
    """One message to one person, before it is split into a row per channel."""

    recipient: Employee
    kind: str
    key: str
    object_type: str = ""
    object_id: str = ""
    context: dict[str, Any] = field(default_factory=dict)
    due_at: datetime | None = None
    ics: CalendarFile | None = None
    channels: Sequence[str] | None = CHOSEN
    urgent: bool = False
    sender: Employee | None = None


def notify(
    recipient: Employee,
    kind: str,
    *,
    key: str,
    obj: Model | None,
    due_at: datetime | None = None,
    context: dict[str, Any] | None = None,
    ics: CalendarFile | None = None,
    channels: Sequence[str] | None = CHOSEN,
    urgent: bool = False,
    sender: Employee | None = None,
) -> list[Notification]:
    """Queue one message to `recipient`, due at `due_at` (now by default), on each channel
    they chose (or on `channels`), never by mail to someone without an address nor to a robot
    nobody set up. `key` names the message: a second call with the same key creates nothing.
    Returns the rows created. The ICS file goes with the mail."""
    message = Message(
        recipient=recipient,
        kind=kind,
        key=key,
        object_type=obj._meta.label_lower if obj is not None else "",
        object_id=str(obj.pk) if obj is not None else "",
        context=context or {},
        due_at=due_at,
        ics=ics,
        channels=channels,
        urgent=urgent,
        sender=sender,
    )
    rows = rows_for([message])
    created = []
    for row in rows:
        _saved, new = Notification.objects.get_or_create(
            key=row.key, defaults={f.attname: getattr(row, f.attname) for f in _FIELDS}
        )
        if new:
            created.append(_saved)
    return created


def queue_many(messages: Sequence[Message]) -> int:
    """Queue many messages at once (a review cycle's launch, a nudge scan): the same rows and
    keys as `notify` gives each, inserted in bulk, keys already queued skipped. A fixed number
    of queries, whatever the number of messages. Returns the number of rows offered."""
    rows = rows_for(messages)
    for start in range(0, len(rows), 2000):
        Notification.objects.bulk_create(rows[start : start + 2000], ignore_conflicts=True)
    return len(rows)


def rows_for(messages: Sequence[Message]) -> list[Notification]:
    """The unsaved rows of these messages: one per channel, each with its key and due time."""
    people = {message.recipient.pk: message.recipient for message in messages}
    chosen = prefs.preferences_of(people.values())
    reachable = _robot_channels(people.values())
    now = timezone.now()
    rows = []
    for message in messages:
        recipient = message.recipient
        preference = chosen[recipient.pk]
        wanted = message.channels
        if wanted is CHOSEN:
            wanted = prefs.chosen_channels(preference)
        planned = _deliveries(
            preference,
            wanted,
            has_email=bool(recipient.email),
            robots=reachable.get(recipient.pk, set()),
            time_zone=recipient.time_zone,
            due_at=message.due_at or now,
            urgent=message.urgent,
        )
        for channel, due, digest in planned:
            attachment = message.ics if channel == Channel.EMAIL else None
            rows.append(
                Notification(
                    organisation_id=recipient.organisation_id,
                    recipient=recipient,
                    kind=message.kind,
                    channel=channel,
                    object_type=message.object_type,
                    object_id=message.object_id,
                    key=_row_key(message.key, channel),
                    context=message.context,
                    due_at=due,
                    digest=digest,
                    urgent=message.urgent,
                    sender=message.sender,
                    ics=attachment.content.decode() if attachment else "",
                    ics_method=attachment.method if attachment else "",
                )
            )
    return rows


def _deliveries(
    preference: Preference,
    channels: Sequence[str],
    *,
    has_email: bool,
    robots: set[str],
    time_zone: str,
    due_at: datetime,
    urgent: bool = False,
) -> list[tuple[str, datetime, bool]]:
    """(channel, due, in the digest) for each of `channels` that can reach the person: no mail
    without an address, no robot nobody set up for them; a push channel of someone who wants a
    digest is due at their digest time unless the message is urgent."""
    planned = []
    for channel in channels:
        if channel == Channel.EMAIL and not has_email:
            continue
        if channel in WEBHOOK_CHANNELS and channel not in robots:
            continue
        if preference.digest and not urgent and channel in PUSH_CHANNELS:
            planned.append((channel, prefs.next_digest(preference, time_zone, due_at), True))
        else:
            planned.append((channel, due_at, False))
    return planned


_FIELDS = [
    f
    for f in Notification._meta.concrete_fields
    if f.name not in ("id", "key") and not f.auto_created
]


def cancel_pending(key_prefix: str, *, keep: str | None = None) -> int:
    """Withdraw the unsent rows whose key starts with `key_prefix`, except those of the
    message `keep` (a key given to `notify`). Returns how many were withdrawn."""
    rows = _pending().filter(key__startswith=key_prefix)
    if keep is not None:
        rows = rows.exclude(key__startswith=_row_key(keep, ""))
    # A row a worker is sending right now keeps its claim: the worker still records the send.
    return rows.update(cancelled_at=timezone.now())


# --- claiming -----------------------------------------------------------------------------------


def claim_due(
    *, now: datetime | None = None, limit: int = 100, worker: str | None = None
) -> list[Notification]:
    """Take up to `limit` due rows for this worker and return them.

    PostgreSQL skips rows another worker has locked; on SQLite the write lock taken at the
    start of the transaction queues the workers. On both, the UPDATE repeats the condition,
    so a row another worker claimed in between is left to it. Leases are on the database's
    clock; `now` (the worker's clock) decides only what is due."""
    now = now or timezone.now()
    worker = worker or uuid.uuid4().hex
    with transaction.atomic():
        clock = database_now()
        ids = _candidate_ids(now, limit, clock=clock)
        claimed = (
            _claimable(now, clock)
            .filter(pk__in=ids)
            .update(claimed_by=worker, claimed_until=clock + lease())
        )
    if not claimed:
        return []
    return list(
        _pending()
        .filter(claimed_by=worker)
        .select_related("recipient", "recipient__department", "sender")
        .order_by("due_at", "pk")
    )


def renew_claims(worker: str) -> int:
    """Move on the lease of every row this worker holds (its heartbeat)."""
    return _pending().filter(claimed_by=worker).update(claimed_until=database_now() + lease())


@contextmanager
def heartbeat(worker: str) -> Iterator[None]:
    """Renew this worker's leases from a thread of its own, every third of the lease, while
    the body runs; the thread has its own database connection."""
    stop = threading.Event()
    interval = max(0.5, settings.MIANTAN_NOTIFICATION_LEASE_SECONDS / 3)

    def beat() -> None:
        try:
            while not stop.wait(interval):
                try:
                    renew_claims(worker)
                except Exception:  # the next beat tries again; the lease has room for it
                    logger.warning("renewing the notification leases failed", exc_info=True)
        finally:
            connections.close_all()

    thread = threading.Thread(target=beat, name=f"lease-{worker[:8]}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=interval + 5)


def _pending() -> QuerySet[Notification]:
    return Notification.objects.filter(
        sent_at__isnull=True, cancelled_at__isnull=True, failed_at__isnull=True
    )


def _claimable(now: datetime, clock: datetime) -> QuerySet[Notification]:
    return _pending().filter(
        Q(claimed_until__isnull=True) | Q(claimed_until__lte=clock), due_at__lte=now
    )


def _candidate_ids(now: datetime, limit: int, *, clock: datetime) -> list[int]:
    due = _claimable(now, clock).order_by("due_at", "pk")
    if connection.features.has_select_for_update_skip_locked:
        due = due.select_for_update(skip_locked=True)
    return list(due.values_list("pk", flat=True)[:limit])


def _row_key(key: str, channel: str) -> str:
    return f"{key}#{channel}"


# --- delivery -----------------------------------------------------------------------------------


def deliver_due(now: datetime | None = None, limit: int = 100, *, worker: str | None = None) -> int:
    """Claim the due rows and send them. Returns how many were sent (a digest counts each row
    it carries). A failure is kept in `last_error` and retried later."""
    now = now or timezone.now()
    worker = worker or uuid.uuid4().hex
    rows = claim_due(now=now, limit=limit, worker=worker)
    if not rows:
        return 0
    with _Round(rows, now=now, worker=worker) as round_:
        return round_.run()


class _Round:
    """One batch of claimed rows: what is needed to send them, loaded once."""

    def __init__(self, rows: list[Notification], *, now: datetime, worker: str) -> None:
        self.rows = rows
        self.now = now
        self.worker = worker
        people = {row.recipient_id: row.recipient for row in rows}
        self.preferences = prefs.preferences_of(people.values())
        self.night_ends = prefs.night_ends_of(people.values(), now)
        self.endpoints = _endpoints_for(people.values())
        self.mailer = _Mailer()
        self.poster: Poster | None = None
        self.clock = DatabaseClock()

    def __enter__(self) -> _Round:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.mailer.close()
        if self.poster is not None:
            self.poster.close()

    def run(self) -> int:
        sent = 0
        digests: dict[tuple[int, str], list[Notification]] = defaultdict(list)
        for row in self.rows:
            if not row.recipient.is_active:
                _close(row, cancelled_at=timezone.now())
                continue
            if self._held(row):
                continue
            if row.digest:
                digests[(row.recipient_id, row.channel)].append(row)
                continue
            sent += self._send([row])
        for group in digests.values():
            sent += self._send(group)
        return sent

    def _held(self, row: Notification) -> bool:
        """Quiet now: the row waits (no attempt counted) until the recipient may hear it."""
        if row.urgent or row.channel not in PUSH_CHANNELS:
            return False
        until = prefs.quiet_until(
            self.preferences[row.recipient_id],
            row.recipient.time_zone,
            self.night_ends.get(row.recipient_id, []),
            self.now,
        )
        if until is None:
            return False
        _close(row, due_at=until)
        return True

    def _send(self, rows: list[Notification]) -> int:
        rows = _begin(rows, worker=self.worker, clock=self.clock)
        if not rows:
            return 0
        first = rows[0]
        try:
            worded = [(row, render(row)) for row in rows]
            kept = [(row, text) for row, text in worded if text is not None]
            for row, text in worded:
                if text is None:
                    _close(row, cancelled_at=timezone.now())
            if not kept:
                return 0
            if first.channel == Channel.EMAIL:
                self.mailer.send(self._mail(kept))
            elif first.channel in WEBHOOK_CHANNELS:
                self._post(kept)
        except Exception as error:
            for row in rows:
                _failed(row, error, now=self.now)
            return 0
        done = 0
        for row, (subject, body) in kept:
            done += _close(row, sent_at=timezone.now(), subject=subject, body=body, last_error="")
        return done

    # mail

    def _mail(self, kept: list[tuple[Notification, tuple[str, str]]]) -> EmailMultiAlternatives:
        first = kept[0][0]
        subject, body = kept[0][1] if len(kept) == 1 else _digest_text(first.recipient, kept)
        sender = first.sender if len(kept) == 1 else None
        message = EmailMultiAlternatives(
            subject,
            body,
            from_email=_from_address(sender),
            to=[first.recipient.email],
            reply_to=[sender.email] if sender is not None and sender.email else None,
            headers={
                "Message-ID": _digest_id(kept) if len(kept) > 1 else first.message_id,
                "X-Miantan-Idempotency-Key": (
                    _digest_key(kept) if len(kept) > 1 else first.idempotency_key
                ),
            },
        )
        message.attach_alternative(_html(subject, body), "text/html")
        if len(kept) == 1 and first.ics:
            part = MIMEText(first.ics, "calendar", "utf-8")
            part.set_param("method", first.ics_method or "REQUEST")
            part.add_header("Content-Disposition", "attachment", filename="invite.ics")
            message.attach(part)
        return message

    # webhooks

    def _post(self, kept: list[tuple[Notification, tuple[str, str]]]) -> None:
        first = kept[0][0]
        endpoint = _endpoint_for(first.recipient, first.channel, self.endpoints)
        if endpoint is None:
            raise LookupError(f"no {first.channel} endpoint is set up for this person")
        if len(kept) == 1:
            (subject, body), key = kept[0][1], first.idempotency_key
            link, label = link_of(first)
        else:
            (subject, body), key = _digest_text(first.recipient, kept), _digest_key(kept)
            link, label = "", ""
        outgoing = Outgoing(
            subject=subject,
            body=body,
            key=key,
            link=f"{settings.MIANTAN_BASE_URL}{link}" if link else "",
            link_label=label,
            language=first.recipient.language,
            mobiles=[first.recipient.phone] if first.recipient.phone else [],
        )
        if self.poster is None:
            self.poster = Poster(send_timeout())
        self.poster.post(
            first.channel,
            request_for(first.channel, outgoing, url=endpoint.url, secret=endpoint.secret),
        )


def _begin(
    rows: list[Notification], *, worker: str, clock: DatabaseClock | None = None
) -> list[Notification]:
    """Record the attempt before the send, for the rows still this worker's; returns them."""
    now = clock.now() if clock is not None else database_now()
    ids = [row.pk for row in rows]
    started = (
        _pending()
        .filter(pk__in=ids, claimed_by=worker)
        .update(sending_since=now, attempts=F("attempts") + 1, claimed_until=now + lease())
    )
    if started == len(rows):
        kept = rows
    else:
        mine = set(
            Notification.objects.filter(
                pk__in=ids, claimed_by=worker, sending_since=now
            ).values_list("pk", flat=True)
        )
        kept = [row for row in rows if row.pk in mine]
    for row in kept:
        row.attempts += 1
        row.sending_since = now
    return kept


def _digest_text(
    recipient: Employee, kept: list[tuple[Notification, tuple[str, str]]]
) -> tuple[str, str]:
    with translation.override(recipient.language):
        subject = _("Miantan: %(count)d messages since your last summary") % {"count": len(kept)}
        parts = [
            _("Here is what happened since your last summary, oldest first.") + "\n",
        ]
        for index, (_row, (one_subject, one_body)) in enumerate(kept, start=1):
            parts.append(f"{index}. {one_subject}\n\n{one_body.strip()}\n")
    return subject, "\n".join(parts)


def _digest_key(kept: list[tuple[Notification, tuple[str, str]]]) -> str:
    joined = "|".join(sorted(row.idempotency_key for row, _text in kept))
    return hashlib.sha256(joined.encode()).hexdigest()[:32]


def _digest_id(kept: list[tuple[Notification, tuple[str, str]]]) -> str:
    return f"<{_digest_key(kept)}@{settings.MIANTAN_MAIL_DOMAIN}>"


def _from_address(sender: Employee | None) -> str:
    if sender is None:
        return settings.DEFAULT_FROM_EMAIL
    # "周敏 (面谈)": the person's name on the organisation's sending address; answers go to them.
    return formataddr((f"{sender.name} ({_('Miantan')})", settings.DEFAULT_FROM_EMAIL))


_URL = re.compile(r"https?://[^\s<>\"]+")


def _html(subject: str, body: str) -> str:
    """The HTML part: the same text, its addresses as links, paragraphs kept."""
    paragraphs = []
    for block in body.strip().split("\n\n"):
        escaped = html.escape(block)
        linked = _URL.sub(lambda m: f'<a href="{m.group(0)}">{m.group(0)}</a>', escaped)
        paragraphs.append("<p>" + linked.replace("\n", "<br>") + "</p>")
    return (
        '<!doctype html><html><head><meta charset="utf-8">'
        f"<title>{html.escape(subject)}</title></head>"
        '<body style="font-family:sans-serif;line-height:1.5;max-width:40em">'
        + "".join(paragraphs)
        + "</body></html>"
    )


def _failed(row: Notification, error: Exception, *, now: datetime) -> None:
    # The id and the error class only: the message may carry an address (no personal data
    # in logs).
    logger.warning("notification %s failed: %s", row.pk, type(error).__name__)
    changes: dict[str, Any] = {"last_error": f"{type(error).__name__}: {error}"[:2000]}
    if row.attempts >= MAX_ATTEMPTS:
        changes["failed_at"] = now
    else:
        changes["due_at"] = now + BACKOFF[max(row.attempts, 1) - 1]
    _close(row, **changes)


def _close(row: Notification, **changes: Any) -> int:
    """Write the outcome and release the claim, if the row is still this worker's."""
    return Notification.objects.filter(pk=row.pk, claimed_by=row.claimed_by).update(
        claimed_by="", claimed_until=None, **changes
    )


class _Mailer:
    """One SMTP connection for a round, opened at the first mail, reopened after a failure."""

    def __init__(self) -> None:
        self.connection: Any = None

    def send(self, message: EmailMultiAlternatives) -> None:
        if self.connection is None:
            self.connection = get_connection(timeout=send_timeout())
            self.connection.open()
        message.connection = self.connection
        try:
            message.send()
        except Exception:
            self.close()
            raise

    def close(self) -> None:
        if self.connection is not None:
            try:
                self.connection.close()
            finally:
                self.connection = None


# --- endpoints ----------------------------------------------------------------------------------


def _robot_channels(people: Any) -> dict[int, set[str]]:
    """For each person, the webhook channels an enabled endpoint reaches them on."""
    people = list(people)
    endpoints = _endpoints_for(people)
    return {
        person.pk: {
            channel
            for channel in WEBHOOK_CHANNELS
            if _endpoint_for(person, channel, endpoints) is not None
        }
        for person in people
    }


def _endpoints_for(people: Any) -> dict[int, list[Endpoint]]:
    organisations = {person.organisation_id for person in people}
    found: dict[int, list[Endpoint]] = defaultdict(list)
    for endpoint in Endpoint.objects.filter(
        organisation_id__in=organisations, enabled=True
    ).select_related("department"):
        found[endpoint.organisation_id].append(endpoint)
    return found


def _endpoint_for(
    person: Employee, channel: str, endpoints: dict[int, list[Endpoint]]
) -> Endpoint | None:
    """The endpoint of the person's own department or the nearest one above it, else the
    organisation's."""
    best: Endpoint | None = None
    best_depth = -1
    path = _department_path(person)
    for endpoint in endpoints.get(person.organisation_id, []):
        if endpoint.channel != channel:
            continue
        if endpoint.department is None:
            depth = 0
        elif path.startswith(endpoint.department.path):
            depth = len(endpoint.department.path)
        else:
            continue
        if depth > best_depth:
            best, best_depth = endpoint, depth
    return best


def _department_path(person: Employee) -> str:
    department = person._state.fields_cache.get("department")
    if department is not None:
        return str(department.path)
    return str(
        Department.objects.filter(pk=person.department_id).values_list("path", flat=True).first()
        or ""
    )


# --- what people do -------------------------------------------------------------------------------


def mark_read(notification: Notification, *, user: Any) -> Notification:
    """The recipient has read an inbox notification (nobody else may mark it)."""
    own = scope_for(user).employee
    if own is None or own.pk != notification.recipient_id:
        raise PermissionDenied
    if notification.read_at is None:
        notification.read_at = timezone.now()
        notification.save(update_fields=["read_at"])
    return notification


def mark_all_read(*, user: Any) -> int:
    own = scope_for(user).employee
    if own is None:
        raise PermissionDenied
    return Notification.objects.filter(
        recipient_id=own.pk, channel=Channel.INBOX, sent_at__isnull=False, read_at__isnull=True
    ).update(read_at=timezone.now())


# --- preferences, endpoints, given-up messages --------------------------------------------------


class InvalidSettings(InvalidFields):
    """Notification settings or an endpoint refused, field by field."""

    error_code = "invalid_settings"


def save_preferences(
    *,
    user: Any,
    channels: Sequence[str],
    quiet_from: Any,
    quiet_until: Any,
    rest_after_night: bool,
    digest: bool,
    digest_at: Any,
) -> Preference:
    """Store what the signed-in person chose. Channels must be ones they can be reached on."""
    own = scope_for(user).employee
    if own is None:
        raise PermissionDenied
    offered = set(offered_channels(own))
    errors: dict[str, str] = {}
    unknown = [channel for channel in channels if channel not in offered]
    if unknown:
        errors["channels"] = _("These channels cannot reach you: %(channels)s") % {
            "channels": ", ".join(unknown)
        }
    if (quiet_from is None) != (quiet_until is None):
        errors["quiet_until"] = _("Give both ends of the quiet hours, or neither.")
    elif quiet_from is not None and quiet_from == quiet_until:
        errors["quiet_until"] = _("Quiet hours must not start and end at the same time.")
    if digest and digest_at is None:
        errors["digest_at"] = _("Choose when the digest arrives.")
    # Times of day follow the person's own time zone: one sent with an offset is ambiguous.
    for name, value in (
        ("quiet_from", quiet_from),
        ("quiet_until", quiet_until),
        ("digest_at", digest_at),
    ):
        if value is not None and getattr(value, "tzinfo", None) is not None:
            errors[name] = _("Give a time of day without a time zone: it follows your own.")
    if errors:
        raise InvalidSettings(errors)
    with transaction.atomic():
        preference, _created = Preference.objects.select_for_update().get_or_create(employee=own)
        before = _preference_data(preference)
        preference.channels = sorted({*channels, Channel.INBOX.value})
        preference.quiet_from = quiet_from
        preference.quiet_until = quiet_until
        preference.rest_after_night = rest_after_night
        preference.digest = digest
        preference.digest_at = digest_at or preference.digest_at
        preference.save()
        audit(
            "notifications.preferences.changed",
            actor=user,
            obj=preference,
            subject_id=own.pk,
            organisation_id=own.organisation_id,
            data={"before": before, "after": _preference_data(preference)},
        )
    return preference


def _preference_data(preference: Preference) -> dict[str, Any]:
    return {
        "channels": list(preference.channels),
        "quiet_from": preference.quiet_from.isoformat() if preference.quiet_from else None,
        "quiet_until": preference.quiet_until.isoformat() if preference.quiet_until else None,
        "rest_after_night": preference.rest_after_night,
        "digest": preference.digest,
        "digest_at": preference.digest_at.isoformat() if preference.digest_at else None,
    }


def offered_channels(person: Employee) -> list[str]:
    """The channels that can reach this person: the inbox, mail if they have an address, and
    each robot or webhook set up for their organisation or department."""
    offered = [Channel.INBOX.value]
    if person.email:
        offered.append(Channel.EMAIL.value)
    reachable = _robot_channels([person]).get(person.pk, set())
    offered += [channel.value for channel in Channel if channel in reachable]
    return offered


def save_endpoint(
    *,
    user: Any,
    endpoint: Endpoint | None,
    channel: str,
    name: str,
    url: str,
    secret: str,
    department_id: int | None,
    enabled: bool,
) -> Endpoint:
    """Create or change a robot or webhook of the administrator's organisation."""
    scope = scope_for(user)
    organisation = rules.delivery_organisation(scope)
    if organisation is None or (
        endpoint is not None and not rules.may_see_endpoint(scope, endpoint)
    ):
        return _deny("notifications.endpoint.changed", user, scope.organisation_id)
    errors: dict[str, str] = {}
    if channel not in WEBHOOK_CHANNELS:
        errors["channel"] = _("Choose one of the group robots or webhooks.")
    if not name.strip():
        errors["name"] = _("Give the endpoint a name people recognise.")
    if not re.match(r"^https?://[^\s/]+", url or ""):
        errors["url"] = _("Enter the full webhook address, starting with https://.")
    department = None
    if department_id is not None:
        department = Department.objects.filter(
            pk=department_id, organisation_id=organisation
        ).first()
        if department is None:
            errors["department"] = _("This department does not exist.")
    if not errors:
        taken = Endpoint.objects.filter(
            organisation_id=organisation, channel=channel, department=department
        )
        if endpoint is not None:
            taken = taken.exclude(pk=endpoint.pk)
        if taken.exists():
            errors["department"] = _(
                "This channel already has an endpoint for this department; change that one."
            )
    if errors:
        raise InvalidSettings(errors)
    with transaction.atomic():
        target = endpoint or Endpoint(organisation_id=organisation)
        target.channel = channel
        target.name = name.strip()
        target.url = url.strip()
        if secret or endpoint is None:
            target.secret = secret.strip()
        target.department = department
        target.enabled = enabled
        target.save()
        audit(
            "notifications.endpoint.changed",
            actor=user,
            obj=target,
            organisation_id=target.organisation_id,
            data={"channel": channel, "department": department_id, "enabled": enabled},
        )
    return target


def delete_endpoint(*, user: Any, endpoint: Endpoint) -> None:
    scope = scope_for(user)
    if not rules.may_see_endpoint(scope, endpoint):
        _deny("notifications.endpoint.deleted", user, scope.organisation_id)
    with transaction.atomic():
        audit(
            "notifications.endpoint.deleted",
            actor=user,
            obj=endpoint,
            organisation_id=endpoint.organisation_id,
            data={"channel": endpoint.channel},
        )
        endpoint.delete()


def retry_failed(*, user: Any, notification: Notification) -> Notification:
    """Send a given-up message again: it becomes due now with its attempts counted anew."""
    scope = scope_for(user)
    if not rules.may_retry(scope, notification):
        _deny("notifications.notification.retried", user, scope.organisation_id)
    with transaction.atomic():
        updated = Notification.objects.filter(pk=notification.pk, failed_at__isnull=False).update(
            failed_at=None, attempts=0, due_at=timezone.now(), claimed_by="", claimed_until=None
        )
        if updated:
            audit(
                "notifications.notification.retried",
                actor=user,
                obj=notification,
                subject_id=notification.recipient_id,
                organisation_id=notification.organisation_id,
                data={"channel": notification.channel, "last_error": notification.last_error},
            )
    notification.refresh_from_db()
    return notification


def _deny(action: str, user: Any, organisation_id: int | None) -> Any:
    audit(action, actor=user, outcome=Outcome.DENIED, organisation_id=organisation_id)
    raise PermissionDenied


def channel_plan(
    organisation_id: int, recipients: Sequence[tuple[int, bool]], *, due_at: datetime
) -> dict[int, list[tuple[str, datetime, bool]]]:
    """For many recipients of one organisation, given as (employee id, has an address): the
    rows `notify` would write for a message due at `due_at`, as (channel, due, in the digest)
    per recipient. Two queries whatever the number of recipients: the organisation's stored
    preferences (few: most people keep the defaults) and its endpoints."""
    chosen = {
        preference.employee_id: preference
        for preference in Preference.objects.filter(
            employee__organisation_id=organisation_id
        ).select_related("employee", "employee__department")
    }
    endpoints = (
        _endpoints_for([preference.employee for preference in chosen.values()]) if chosen else {}
    )
    plan: dict[int, list[tuple[str, datetime, bool]]] = {}
    for recipient_id, has_email in recipients:
        preference = chosen.get(recipient_id)
        if preference is None:  # the defaults: mail and inbox, no digest, no robot
            plan[recipient_id] = _deliveries(
                Preference(),
                DEFAULT_CHANNELS,
                has_email=has_email,
                robots=set(),
                time_zone="UTC",
                due_at=due_at,
            )
            continue
        person = preference.employee
        plan[recipient_id] = _deliveries(
            preference,
            prefs.chosen_channels(preference),
            has_email=has_email,
            robots={
                channel
                for channel in WEBHOOK_CHANNELS
                if _endpoint_for(person, channel, endpoints) is not None
            },
            time_zone=person.time_zone,
            due_at=due_at,
        )
    return plan
