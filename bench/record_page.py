"""The record page and a section save, measured inside a `run.py` worker on its seeded dataset
(`record_page.*`, `record_save.*`).

Of the seeded talks, those led by the manager with the most talks are started and their
records opened (as many as there are timed requests). The record page is then requested as
that manager, and one section (the agreements, which both sides write) is saved by form, each
save on the version the previous one left, as a person typing would. Query counts are taken
apart from the timed requests, on three other records.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from datetime import timedelta

from benchlib import percentile

WARM_UP = 10
QUERY_SAMPLES = 3


def measure_records(add: Callable[[str, float, str], None], requests: int) -> None:
    from django.db import connection
    from django.db.models import Count
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from miantan.interviews.enums import TalkState
    from miantan.interviews.models import Talk
    from miantan.records import services
    from miantan.records.models import Block, Record

    leader = (
        Talk.objects.values("counterpart_id")
        .annotate(n=Count("pk"))
        .order_by("-n", "counterpart_id")
        .first()
    )
    if leader is None:
        return
    rng = random.Random(11)
    talk_ids = list(
        Talk.objects.filter(counterpart_id=leader["counterpart_id"])
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    wanted = min(len(talk_ids), requests + WARM_UP + QUERY_SAMPLES)
    chosen = rng.sample(talk_ids, wanted)
    now = timezone.now()
    Talk.objects.filter(pk__in=chosen).update(
        state=TalkState.IN_PROGRESS, scheduled_start=now, scheduled_end=now + timedelta(minutes=45)
    )
    started = time.perf_counter()
    for talk in Talk.objects.filter(pk__in=chosen).select_related("organisation"):
        if not Record.objects.filter(talk=talk).exists():
            services.create_record(talk)
    print(f"  {len(chosen)} records opened in {time.perf_counter() - started:.1f} s", flush=True)
    records = list(Record.objects.filter(talk_id__in=chosen).order_by("talk_id"))
    blocks = {
        block.record_id: block
        for block in Block.objects.filter(record__in=records, section="agreement", side="")
    }
    records = [record for record in records if record.pk in blocks]
    if not records:
        return
    manager = Talk.objects.get(pk=records[0].talk_id).counterpart
    client = Client()
    client.force_login(manager.user)

    def page(n: int) -> None:
        response = client.get(f"/talks/{records[n % len(records)].talk_id}/record/")
        if response.status_code != 200:
            raise SystemExit(f"record page answered {response.status_code}")

    versions = {record.pk: blocks[record.pk].version for record in records}

    def save(n: int) -> None:
        record = records[n % len(records)]
        block = blocks[record.pk]
        response = client.post(
            f"/talks/{record.talk_id}/record/blocks/{block.pk}/",
            {"version": str(versions[record.pk]), "f-agreements": f"下季度带教 {n} 名新护士"},
            HTTP_X_AUTOSAVE="1",
        )
        if response.status_code != 200:
            raise SystemExit(f"record save answered {response.status_code}: {response.content!r}")
        versions[record.pk] = response.json()["version"]

    for name, call in (("record_page", page), ("record_save", save)):
        for n in range(WARM_UP):
            call(n)
        timings = []
        for n in range(requests):
            begun = time.perf_counter()
            call(n)
            timings.append((time.perf_counter() - begun) * 1000)
        counts = []
        for n in range(QUERY_SAMPLES):
            with CaptureQueriesContext(connection) as captured:
                call(requests + n)
            counts.append(len(captured.captured_queries))
        add(f"{name}.median", sorted(timings)[len(timings) // 2], "ms")
        add(f"{name}.p95", percentile(timings, 95), "ms")
        add(f"{name}.queries", max(counts), "queries")
        print(
            f"  {name}: median {sorted(timings)[len(timings) // 2]:.1f} ms, "
            f"p95 {percentile(timings, 95):.1f} ms, {max(counts)} queries",
            flush=True,
        )
