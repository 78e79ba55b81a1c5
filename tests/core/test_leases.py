"""Leases on background jobs: claimed once, kept alive by a heartbeat, taken back once."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.core.files.base import ContentFile

from miantan.core.leases import claim, kept_alive, renew, take_back_expired
from miantan.people.models import Organisation, OrgImport

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def job(db: None, settings: Any) -> OrgImport:
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
    }
    organisation = Organisation.objects.create(name="星河科技", slug="xinghe")
    found = OrgImport(organisation=organisation, original_name="org.csv")
    found.file.save("org.csv", ContentFile(b"x"), save=False)
    found.save()
    return found


def test_claim_gives_a_pending_job_to_one_worker_only(job: OrgImport) -> None:
    with time_machine.travel(START, tick=False):
        first = claim(OrgImport, job.pk)
        second = claim(OrgImport, job.pk)

    job.refresh_from_db()
    assert (first, second) == (1, None)
    assert (job.status, job.attempts) == ("running", 1)
    assert job.claimed_at == START
    assert job.lease_until == START + timedelta(seconds=300)


def test_renew_is_refused_to_an_attempt_that_lost_the_job(job: OrgImport) -> None:
    claim(OrgImport, job.pk)
    OrgImport.objects.filter(pk=job.pk).update(status="pending")
    claim(OrgImport, job.pk)

    assert not renew(OrgImport, job.pk, 1)
    assert renew(OrgImport, job.pk, 2)


def test_take_back_runs_once_however_often_it_is_asked(job: OrgImport) -> None:
    retried: list[int] = []
    with time_machine.travel(START, tick=False):
        claim(OrgImport, job.pk)
    with time_machine.travel(START + timedelta(seconds=301), tick=False):
        jobs = OrgImport.objects.all()
        first = take_back_expired(jobs, retry=lambda j: retried.append(j.pk), fail=lambda j: None)
        second = take_back_expired(jobs, retry=lambda j: retried.append(j.pk), fail=lambda j: None)

    assert (first, second, retried) == (1, 0, [job.pk])


@pytest.mark.django_db(transaction=True)
def test_kept_alive_moves_the_lease_on_while_the_work_runs(settings: Any) -> None:
    settings.MIANTAN_IMPORT_LEASE_SECONDS = 3  # a beat every second
    organisation = Organisation.objects.create(name="星河科技", slug="xinghe")
    found = OrgImport.objects.create(
        organisation=organisation, file="imports/org/x.csv", original_name="x.csv"
    )
    attempt = claim(OrgImport, found.pk)
    assert attempt == 1
    claimed_until = OrgImport.objects.get(pk=found.pk).lease_until

    with kept_alive(OrgImport, found.pk, attempt):
        time.sleep(1.6)  # the work: long enough for one beat of the heartbeat

    renewed_until = OrgImport.objects.get(pk=found.pk).lease_until
    assert claimed_until is not None and renewed_until is not None
    assert renewed_until > claimed_until
