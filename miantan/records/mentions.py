"""@mentions in a record (PRODUCT.md C9): a colleague named in a comment with "@姓名" or
"@工号" (employee number) may read that one section of the record, and nothing more.

The comment service (`services.add_comment`) calls `grant_mentions` with the comment's text;
the record page and the attachments ask `sections_mentioned`. A mention is granted once per
section and person, told to the colleague (a message that links to the record, never quoting
it) and audited as `records.mention.granted`.

Names are matched against the active employees of the record's organisation: "@王芳请看" finds
王芳 (the longest name or number the text after "@" starts with). A name that two active
colleagues share mentions nobody; the employee number does.
"""

from __future__ import annotations

import re
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Q
from django.utils.translation import gettext as _

from miantan.audit.enums import Outcome
from miantan.audit.services import record as audit
from miantan.core.errors import InvalidFields
from miantan.people.enums import EmploymentStatus
from miantan.people.models import Employee

from . import definitions
from .messages import MENTIONED, queue_record_notification
from .models import Mention, Record
from .rules import own_employee, side_of

# What may follow "@": anything up to a space, a control character or a punctuation mark.
_MENTION = re.compile(
    r"@([^\s\x00-\x1f\x7f@,，.。;；:：!！?？、()（）\[\]【】<>《》\"'“”‘’]{1,40})"
)
# At most this many "@" in one text are looked at.
MAX_MENTIONS = 20


def grant_mentions(record: Record, section_key: str, text: str, *, actor: Any) -> list[Mention]:
    """Let the colleagues named in `text` read the section `section_key` of the record.

    Returns the mentions of everyone the text names (granted now or before); only the new
    ones are notified and audited. The talk's two people and the actor are never mentioned:
    they read the whole record already. Called inside the comment's transaction."""
    talk = record.talk
    own = own_employee(actor)
    if own is None or side_of(actor, talk) is None:
        audit(
            "records.mention.granted",
            actor=actor,
            outcome=Outcome.DENIED,
            obj=record,
            subject_id=talk.employee_id,
            organisation_id=talk.organisation_id,
        )
        raise PermissionDenied
    if definitions.parse(record.template_version.definition).section(section_key) is None:
        raise InvalidFields({"section": _("This section is not part of the record.")})
    people = named_colleagues(text, organisation_id=record.organisation_id)
    left_out = {own.pk, talk.employee_id, talk.counterpart_id}
    people = [person for person in people if person.pk not in left_out]
    if not people:
        return []
    mentions: list[Mention] = []
    new: list[Employee] = []
    with transaction.atomic():
        for person in people:
            mention, created = Mention.objects.get_or_create(
                record=record,
                section=section_key,
                employee=person,
                defaults={"mentioned_by": own},
            )
            mentions.append(mention)
            if created:
                new.append(person)
                audit(
                    "records.mention.granted",
                    actor=actor,
                    obj=mention,
                    subject_id=talk.employee_id,
                    organisation_id=talk.organisation_id,
                    data={"section": section_key, "employee": person.pk},
                )
        if new:
            queue_record_notification(
                record,
                MENTIONED,
                actor=own,
                data={"section": section_key},
                recipients=new,
            )
    return mentions


def named_colleagues(text: str, *, organisation_id: int) -> list[Employee]:
    """The active employees of the organisation that `text` names after an "@", in the order
    of the text, each once. One query, whatever the size of the organisation."""
    tokens = [match.group(1) for match in _MENTION.finditer(text or "")][:MAX_MENTIONS]
    if not tokens:
        return []
    prefixes = {token[:length] for token in tokens for length in range(1, len(token) + 1)}
    numbers = prefixes | {prefix.upper() for prefix in prefixes}
    candidates = list(
        Employee.objects.filter(
            organisation_id=organisation_id, status=EmploymentStatus.ACTIVE
        ).filter(Q(name__in=prefixes) | Q(employee_number__in=numbers))
    )
    found: list[Employee] = []
    for token in tokens:
        person = _longest_match(token, candidates)
        if person is not None and all(person.pk != other.pk for other in found):
            found.append(person)
    return found


def _longest_match(token: str, candidates: list[Employee]) -> Employee | None:
    """The one colleague whose number or name is the longest start of `token`; None when
    nobody's is, or when that start names two people."""
    for length in range(len(token), 0, -1):
        prefix = token[:length]
        matching = {
            person.pk: person
            for person in candidates
            if person.employee_number.upper() == prefix.upper() or person.name == prefix
        }
        if len(matching) == 1:
            return next(iter(matching.values()))
        if matching:
            return None
    return None


def sections_mentioned(user: Any, record: Record) -> set[str]:
    """The sections of the record the user was mentioned in (empty for everyone else)."""
    own = own_employee(user)
    if own is None or own.organisation_id != record.organisation_id:
        return set()
    return set(
        Mention.objects.filter(record=record, employee=own).values_list("section", flat=True)
    )
