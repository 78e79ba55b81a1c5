"""The archive on the admin site: superusers look, nobody changes anything there, and what
people wrote (the snapshot, a reason for disagreeing, a drawn signature) is not shown."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from miantan.archive.models import Appeal, ArchiveEntry, Signature
from tests.archive.test_signing import DOT, confirmed_record, sign
from tests.records.builders import TALK_AT

pytestmark = pytest.mark.django_db

REASON = "评分依据不充分MARKER-77c1"


@pytest.fixture(autouse=True)
def _after_the_talk():
    with time_machine.travel(TALK_AT + timedelta(minutes=40), tick=False):
        yield


def superuser_client() -> Client:
    client = Client()
    client.force_login(
        get_user_model().objects.create_superuser("root", "root@example.com", "x" * 12)
    )
    return client


@pytest.fixture
def signed(hospital):
    """王芳 signed with a drawing and a disagreement, 周敏 signed: an open appeal."""
    record = confirmed_record(hospital)
    sign(record, hospital.nurse_wang, handwriting=DOT, dissent=True, reason=REASON)
    sign(record, hospital.head_nurse)
    return record


def test_superusers_see_signatures_and_appeals_without_what_was_written(signed):
    client = superuser_client()
    signature = Signature.objects.get(record=signed, side="employee")
    appeal = Appeal.objects.get(record=signed)
    pages = [
        reverse("admin:archive_signature_changelist"),
        reverse("admin:archive_signature_change", args=[signature.pk]),
        reverse("admin:archive_appeal_changelist"),
        reverse("admin:archive_appeal_change", args=[appeal.pk]),
    ]

    for path in pages:
        response = client.get(path)
        assert response.status_code == 200, path
        text = response.content.decode()
        assert "MARKER-77c1" not in text
        assert signature.handwriting[:40] not in text
    detail = client.get(pages[1]).content.decode()
    assert signature.snapshot_sha256 in detail and signature.key_id in detail


def test_nothing_of_the_archive_can_be_changed_added_or_deleted_there(signed, hospital):
    from miantan.archive import services

    appeal = Appeal.objects.get(record=signed)
    services.resolve_appeal(
        appeal, actor=hospital.hr_partner.user, outcome="upheld", resolution="依据充分"
    )
    entry = ArchiveEntry.objects.get(record=signed)
    signature = Signature.objects.get(record=signed, side="manager")
    client = superuser_client()

    for model, obj in (("signature", signature), ("appeal", appeal), ("archiveentry", entry)):
        change = reverse(f"admin:archive_{model}_change", args=[obj.pk])
        assert 'name="_save"' not in client.get(change).content.decode()
        assert client.post(change, {"side": "manager"}).status_code == 403
        assert client.get(reverse(f"admin:archive_{model}_add")).status_code == 403
        delete = reverse(f"admin:archive_{model}_delete", args=[obj.pk])
        assert client.post(delete, {"post": "yes"}).status_code == 403
    assert Signature.objects.filter(record=signed).count() == 2
    assert ArchiveEntry.objects.filter(pk=entry.pk).exists()


def test_organisation_administrators_get_no_archive_pages(signed, hospital, client_as):
    client = client_as(hospital.admin)

    assert client.get(reverse("admin:archive_signature_changelist")).status_code in (302, 403)
    assert client.get(reverse("admin:archive_archiveentry_changelist")).status_code in (302, 403)
