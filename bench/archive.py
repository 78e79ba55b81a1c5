"""The signed archive at scale: checking it, its PDFs and the employee's file
(`archive_verify.*`, `archive_create.*`, `pdf_export.*`, `employee_file.*`). See bench/README.md.

Measured inside a run.py worker after the talk records, on the dataset it seeded
(`measure_archive`), or on its own (`python bench/archive.py`), on a fresh copy of a seeded
database kept between runs (`miantan_bench_archive_seed_<N>` on PostgreSQL,
`var/bench/archive-seed-<N>.sqlite3`).

1. Of the seeded talks in the state archived (four per employee), all those of the first
   employees by id, up to RECORDS: each gets the record, snapshot, signatures and chain entry
   that opening, filling, confirming and signing it through the services leaves. Through the
   services each record would be filled section by section, confirmed and signed twice, each
   step in a transaction of its own and audited: hours for 100,000 records. So the rows are
   written set-based, made by the project's own functions: `archive.snapshots` for the
   canonical snapshot and the evidence, `archive.providers` for the server's Ed25519 signature,
   `core.chain.link_hash` for the chain's seal, entries appended in order under the chain
   head's lock as `archive.services._append` does; block values pass through
   `records.definitions.clean_values` as a save does. One record in HANDWRITING_EVERY has
   drawn signatures, one in DISSENT_EVERY was signed with a disagreement whose appeal HR upheld.
   Not written: audit events and the records' data brief (`hints`), which nothing here reads.
2. `verify_all` over the whole archive, timed; it must find nothing.
3. The signed PDF of PDF_RUNS archived records with drawn signatures, one after another.
4. `GET /people/<id>/file/` as HR (`h.hr`), for different employees with signed talks, and as
   the manager with the most of them, for his reports.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import json
import os
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import closing
from datetime import UTC, date, timedelta
from pathlib import Path
from typing import Any

from benchlib import PG_SERVER, RESULTS, ROOT, Result, merge_results, percentile, postgres_reachable

RECORDS = 100_000
CHUNK = 1000
HANDWRITING_EVERY = 4
DISSENT_EVERY = 50
PDF_RUNS = 30
PDF_WARM_UP = 2
WARM_UP = 10
QUERY_SAMPLES = 3
ORGANISATION = "hospital"
HR = "h.hr"
FILE_P95_MS = 50.0
TARGET_RECORDS_PER_SECOND = 2000
FILES = ROOT / "var" / "bench"
PG_WORK = "miantan_bench_archive"

Add = Callable[[str, float, str], None]

SHORT = ("静脉输液安全质控", "夜班交接流程优化", "新护士带教", "病历书写质量", "门诊随访")
LONG = (
    "本季度按计划完成了科室的质控任务，每班双人核对，发现并纠正了两次输液速度设置错误。"
    "\n与同事一起整理了新版交接清单，全组已在使用。",
    "夜班与白班交接时信息遗漏较多，下一阶段希望固定交接时间，并在系统中记录交接要点。",
    "带教两名新护士，完成了基础操作考核；下季度计划参加院内的带教老师培训。",
    "门诊量稳步上升，患者满意度保持在科室前列；病历书写仍有格式问题，需要按模板逐项核对。",
)
USER_AGENTS = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 Mobile",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/124.0 Safari/537.36",
    "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 Chrome/124.0 Mobile Safari/537.36",
)


# --- 1. archived records, set-based -----------------------------------------------------------


def archive_talks(limit: int) -> int:
    """Archived records for up to `limit` seeded talks in the state archived (all of each
    employee's, employees by id), chained in the order they were held. Returns how many."""
    from miantan.interviews.enums import TalkState
    from miantan.interviews.models import Talk

    chosen = (
        Talk.objects.filter(
            organisation__slug=ORGANISATION,
            state=TalkState.ARCHIVED,
            record__isnull=True,
            scheduled_start__isnull=False,
        )
        .order_by("employee_id", "pk")
        .values_list("pk", "scheduled_start")[:limit]
    )
    # The chain runs in the order the talks were held, as signing them would have made it.
    ids = [pk for pk, _start in sorted(chosen, key=lambda row: (row[1], row[0]))]
    maker = _Maker()
    for start in range(0, len(ids), CHUNK):
        maker.write(ids[start : start + CHUNK])
    _analyze()
    return len(ids)


class _Maker:
    """What signing leaves, for one chunk of talks after another (one transaction each)."""

    def __init__(self) -> None:
        from django.contrib.auth import get_user_model

        from miantan.archive.providers import provider
        from miantan.people.models import Employee, Organisation

        self.organisation = Organisation.objects.get(slug=ORGANISATION)
        self.hr = Employee.objects.get(user=get_user_model().objects.get(username=HR))
        self.provider = provider()
        self.versions: dict[str, tuple[Any, Any]] = {}
        self.values: dict[tuple[int, str, str], list[dict[str, Any]]] = {}
        self.handwriting = [_png(n) for n in range(4)]
        self.number = 0

    def write(self, talk_ids: list[int]) -> None:
        from django.db import transaction

        from miantan.archive.models import Appeal, Signature, Snapshot
        from miantan.interviews.models import Talk
        from miantan.records.models import Block, Record

        talks = {
            talk.pk: talk
            for talk in Talk.objects.filter(pk__in=talk_ids).select_related(
                "employee", "counterpart"
            )
        }
        with transaction.atomic():
            built = [self._record(talks[pk]) for pk in talk_ids]
            records = [record for record, _blocks in built]
            Record.objects.bulk_create(records)
            for record, blocks in built:
                for block in blocks:
                    block.record = record
            Block.objects.bulk_create([block for _record, blocks in built for block in blocks])
            snapshots = [self._snapshot(record, blocks) for record, blocks in built]
            Snapshot.objects.bulk_create(snapshots)
            signed = [self._signatures(r, s) for r, s in zip(records, snapshots, strict=True)]
            Signature.objects.bulk_create([s for pair in signed for s in pair.values()])
            Appeal.objects.bulk_create(
                [self._appeal(pair["employee"]) for pair in signed if pair["employee"].dissent]
            )
            self._append(records, signed)

    def _record(self, talk: Any) -> tuple[Any, list[Any]]:
        from miantan.records import definitions
        from miantan.records.enums import Filler, RecordState
        from miantan.records.models import Block, Record
        from miantan.records.services import CONFIRMING_SIDES

        version, definition = self._version(talk.topic)
        held = talk.scheduled_start.astimezone(UTC)
        n = self.number
        self.number += 1
        blocks = []
        saves = 0
        for position, section in enumerate(definition.sections):
            sides = CONFIRMING_SIDES if section.per_side else ("",)
            for side in sides:
                # HR's sections stay as they opened: HR writes in few of them.
                filled = section.filled_by != Filler.HR
                values = (
                    self._values(version.pk, section, side, n)
                    if filled
                    else definitions.empty_values(section)
                )
                saves += filled
                writer = (
                    talk.counterpart
                    if side == "manager"
                    or (not side and section.filled_by in (Filler.MANAGER, Filler.HR))
                    else talk.employee
                )
                at = held + timedelta(minutes=5 + position, microseconds=n % 997)
                blocks.append(
                    Block(
                        section=section.key,
                        side=side,
                        position=position,
                        values=values,
                        version=1 if filled else 0,
                        updated_by=writer if filled else None,
                        updated_at=at if filled else None,
                        submitted_at=at if filled and section.sealed else None,
                    )
                )
        confirmed = held + timedelta(minutes=50, microseconds=n % 9973)
        record = Record(
            talk=talk,
            organisation_id=talk.organisation_id,
            template_version=version,
            state=RecordState.ARCHIVED,
            version=saves,
            employee_confirmed_at=confirmed - timedelta(minutes=2),
            employee_confirmed_version=saves,
            manager_confirmed_at=confirmed,
            manager_confirmed_version=saves,
            confirmed_at=confirmed,
            created_at=held,
            updated_at=confirmed + timedelta(minutes=10),
        )
        return record, blocks

    def _version(self, topic: str) -> tuple[Any, Any]:
        """The template version a record of the topic opens with, and its parsed definition."""
        from miantan.records import definitions
        from miantan.records.templates import template_for_topic

        if topic not in self.versions:
            version = template_for_topic(self.organisation, topic)
            self.versions[topic] = (version, definitions.parse(version.definition))
        return self.versions[topic]

    def _values(self, version_id: int, section: Any, side: str, n: int) -> dict[str, Any]:
        """One of a few fillings of the section, cleaned as a save cleans them and read back
        as the database gives them (JSON)."""
        from django.core.serializers.json import DjangoJSONEncoder

        from miantan.records import definitions

        key = (version_id, section.key, side)
        if key not in self.values:
            variants = []
            for variant in range(5):
                entry = {spec.key: _field_value(spec, variant) for spec in section.fields}
                raw = {"items": [entry, entry]} if section.repeatable else entry
                cleaned = definitions.clean_values(section, raw)
                variants.append(json.loads(json.dumps(cleaned, cls=DjangoJSONEncoder)))
            self.values[key] = variants
        return self.values[key][n % len(self.values[key])]

    def _snapshot(self, record: Any, blocks: list[Any]) -> Any:
        """As `archive.services._snapshot`: the canonical JSON of the record and its hash."""
        from miantan.archive import snapshots
        from miantan.archive.models import Snapshot

        content = snapshots.encode(snapshots.snapshot_of(record, blocks))
        return Snapshot(
            record=record,
            version=record.version,
            content=content,
            sha256=snapshots.digest(content),
            created_at=record.confirmed_at + timedelta(minutes=4),
        )

    def _signatures(self, record: Any, snapshot: Any) -> dict[str, Any]:
        """Both sides' signatures, as `archive.services.sign_record` makes each one."""
        from miantan.archive import snapshots
        from miantan.archive.models import AuthMethod, Signature

        n = record.talk_id
        png = self.handwriting[n % len(self.handwriting)] if n % HANDWRITING_EVERY == 0 else b""
        talk = record.talk
        made = {}
        for offset, (side, signer) in enumerate(
            (("employee", talk.employee), ("manager", talk.counterpart))
        ):
            dissent = side == "employee" and n % DISSENT_EVERY == 0
            signature = Signature(
                record=record,
                organisation_id=record.organisation_id,
                record_version=record.version,
                side=side,
                signer=signer,
                signed_at=snapshot.created_at + timedelta(minutes=offset * 3, microseconds=n % 991),
                ip=f"10.{n % 200}.{(n // 200) % 250}.{1 + offset}",
                user_agent=USER_AGENTS[(n + offset) % len(USER_AGENTS)],
                template_version=record.template_version.number,
                snapshot_sha256=snapshot.sha256,
                method=AuthMethod.PASSWORD,
                dissent=dissent,
                dissent_reason="改进计划中的目标与我们谈的不一致，请 HR 看一下。"
                if dissent
                else "",
                handwriting=base64.b64encode(png).decode() if png else "",
                handwriting_sha256=hashlib.sha256(png).hexdigest() if png else "",
            )
            signature.provider = self.provider.name
            server = self.provider.sign(snapshots.evidence_bytes(signature), signer=signer)
            signature.key_id, signature.server_signature = server.key_id, server.signature
            signature.provider_evidence = server.evidence
            made[side] = signature
        return made

    def _appeal(self, signature: Any) -> Any:
        """The appeal a disagreement opened, upheld by HR (the record then stands as signed)."""
        from miantan.archive.models import Appeal, AppealOutcome, AppealState

        return Appeal(
            record=signature.record,
            organisation_id=signature.organisation_id,
            signature=signature,
            record_version=signature.record_version,
            opened_by=signature.signer,
            opened_at=signature.signed_at,
            reason=signature.dissent_reason,
            state=AppealState.RESOLVED,
            outcome=AppealOutcome.UPHELD,
            resolution="与双方确认后，记录按签署内容保留。",
            resolved_by=self.hr,
            resolved_at=signature.signed_at + timedelta(minutes=1),
        )

    def _append(self, records: list[Any], signed: list[dict[str, Any]]) -> None:
        """The records' entries at the end of the chain, in order, as `archive.services._append`
        writes one: under the head's lock, each sealed over its predecessor's hash."""
        from miantan.archive.models import ArchiveEntry, ArchiveHead
        from miantan.archive.services import SIGNING_SIDES
        from miantan.core import signing
        from miantan.core.chain import GENESIS, link_hash

        ArchiveHead.objects.get_or_create(organisation_id=self.organisation.pk)
        head = ArchiveHead.objects.select_for_update().get(organisation_id=self.organisation.pk)
        ring = signing.ring()
        entries = []
        for record, pair in zip(records, signed, strict=True):
            entry = ArchiveEntry(
                organisation_id=record.organisation_id,
                seq=head.seq + 1,
                record=record,
                record_version=record.version,
                snapshot_sha256=pair["employee"].snapshot_sha256,
                signatures={side: pair[side].server_signature for side in SIGNING_SIDES},
                archived_at=pair["manager"].signed_at + timedelta(microseconds=250),
                prev_hash=head.hash or GENESIS,
                key_id=ring.current_id,
            )
            entry.hash = link_hash(ring, entry.key_id, entry.prev_hash, entry.link_fields())
            entries.append(entry)
            head.seq, head.hash = entry.seq, entry.hash
        ArchiveEntry.objects.bulk_create(entries)
        head.save(update_fields=["seq", "hash"])


def _field_value(spec: Any, variant: int) -> Any:
    """A plausible value of one field (the `variant`-th of a few)."""
    from miantan.records.enums import FieldType

    kind = spec.type
    if kind == FieldType.SHORT_TEXT:
        return SHORT[variant % len(SHORT)]
    if kind == FieldType.LONG_TEXT:
        return LONG[variant % len(LONG)]
    if kind in (FieldType.NUMBER, FieldType.RATING):
        low = int(spec.minimum if spec.minimum is not None else 0)
        high = int(spec.maximum if spec.maximum is not None else low + 100)
        return low + (variant * 7 + 3) % (high - low + 1)
    if kind == FieldType.CHOICE:
        return spec.choices[variant % len(spec.choices)].value
    if kind == FieldType.DATE:
        return (date(2026, 6, 30) + timedelta(days=30 * variant)).isoformat()
    if kind == FieldType.GOALS:
        return [
            {
                "goal": "独立完成夜班质控",
                "measure": "每月抽查无差错",
                "due": "2026-09-30",
                "support": "护士长每周反馈",
            },
            {
                "goal": SHORT[variant % len(SHORT)],
                "measure": "季度考核达标",
                "due": "2026-12-31",
                "support": "",
            },
        ]
    if kind == FieldType.KPI_TABLE:
        return [
            {
                "kpi": "outpatient_visits",
                "name": "门诊量",
                "unit": "人次",
                "actual": 1180 + variant,
                "target": 1200,
                "team": 1104,
                "comment": "略低于目标，与排班有关",
            },
            {
                "kpi": "patient_satisfaction",
                "name": "患者满意度",
                "unit": "%",
                "actual": 96,
                "target": 95,
                "team": 94,
                "comment": "",
            },
        ]
    return None


def _png(variant: int) -> bytes:
    """A drawn signature as the page sends it: a stroke on a transparent 480×160 PNG."""
    from PIL import Image, ImageDraw

    image = Image.new("LA", (480, 160), (0, 0))
    draw = ImageDraw.Draw(image)
    rng = random.Random(variant)
    points = [(20 + x * 11, 80 + rng.randint(-45, 45)) for x in range(40)]
    draw.line(points, fill=(20, 255), width=3, joint="curve")
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def _analyze() -> None:
    """Statistics for the tables just filled, as the seeding does after its bulk loads."""
    from django.db import connection

    tables = (
        "records_record",
        "records_block",
        "archive_snapshot",
        "archive_signature",
        "archive_appeal",
        "archive_archiveentry",
    )
    with connection.cursor() as cursor:
        for table in tables:
            if connection.vendor == "postgresql" and not connection.in_atomic_block:
                cursor.execute(f"VACUUM ANALYZE {table}")
            else:
                cursor.execute(f"ANALYZE {table}")


# --- 2-4. the measurements --------------------------------------------------------------------


def measure_archive(add: Add, requests: int, *, records: int = RECORDS) -> None:
    """All of this benchmark on the current database (Django set up, dataset seeded)."""
    started = time.perf_counter()
    made = archive_talks(records)
    seconds = time.perf_counter() - started
    add("archive_create.records", made, "records")
    add("archive_create.seconds", seconds, "s")
    add("archive_create.records_per_second", made / seconds, "records/s")
    print(f"  {made:,} archived records written in {seconds:.1f} s", flush=True)
    _verify(add)
    _pdf(add)
    _employee_file(add, requests)
    print(f"  the archive part took {time.perf_counter() - started:.0f} s", flush=True)


def _verify(add: Add) -> None:
    from miantan.archive import verification
    from miantan.archive.models import ArchiveEntry

    summary = verification.Summary()
    started = time.perf_counter()
    findings = list(verification.verify_all(summary))
    seconds = time.perf_counter() - started
    # A benchmark that verifies a broken archive measures nothing.
    if findings or summary.records != ArchiveEntry.objects.count():
        shown = "; ".join(str(finding) for finding in findings[:5])
        raise SystemExit(
            f"verify_all: {len(findings)} findings, {summary.records} records: {shown}"
        )
    add("archive_verify.records", summary.records, "records")
    add("archive_verify.seconds", seconds, "s")
    add("archive_verify.records_per_second", summary.records / seconds, "records/s")
    add("archive_verify.findings", len(findings), "findings")
    print(
        f"  verify_all: {summary.records:,} records in {seconds:.1f} s "
        f"({summary.records / seconds:,.0f} records/s), 0 findings",
        flush=True,
    )


def _pdf(add: Add) -> None:
    from miantan.archive import exports, pdf
    from miantan.archive.models import Signature
    from miantan.records.models import Record

    with_handwriting = list(
        Signature.objects.exclude(handwriting="")
        .filter(side="employee")
        .order_by("record_id")
        .values_list("record_id", flat=True)
    )
    if not with_handwriting:
        return
    rng = random.Random(13)
    wanted = PDF_WARM_UP + PDF_RUNS
    chosen = rng.sample(with_handwriting, min(wanted, len(with_handwriting)))
    timings = []
    for n in range(wanted):
        record = Record.objects.select_related(
            "talk__organisation",
            "talk__employee__department",
            "talk__counterpart",
            "template_version__template",
        ).get(pk=chosen[n % len(chosen)])
        begun = time.perf_counter()
        content = pdf.export_pdf(exports.document_of(record, "zh-hans"))
        if n >= PDF_WARM_UP:
            timings.append(time.perf_counter() - begun)
        if not content.startswith(b"%PDF"):
            raise SystemExit(f"the PDF of record {record.pk} is not a PDF")
    add("pdf_export.seconds.median", statistics.median(timings), "s")
    add("pdf_export.seconds.p95", percentile(timings, 95), "s")
    print(
        f"  pdf_export: median {statistics.median(timings):.2f} s, "
        f"p95 {percentile(timings, 95):.2f} s ({len(timings)} records)",
        flush=True,
    )


def _employee_file(add: Add, requests: int) -> None:
    """The file page as HR (every signed talk of the employee) and as the manager with the
    most reports who have signed talks (the talks he held)."""
    from django.contrib.auth import get_user_model
    from django.db.models import Count

    from miantan.people.models import Employee
    from miantan.records.enums import RecordState
    from miantan.records.models import Record

    archived = Record.objects.filter(state=RecordState.ARCHIVED, organisation__slug=ORGANISATION)
    employees = sorted(set(archived.values_list("talk__employee_id", flat=True)))
    leader = (
        archived.values("talk__counterpart_id")
        .annotate(n=Count("talk__employee_id", distinct=True))
        .order_by("-n", "talk__counterpart_id")
        .first()
    )
    if leader is None:
        return
    rng = random.Random(17)
    reports = sorted(
        set(
            archived.filter(talk__counterpart_id=leader["talk__counterpart_id"]).values_list(
                "talk__employee_id", flat=True
            )
        )
    )
    manager = Employee.objects.select_related("user").get(pk=leader["talk__counterpart_id"])
    hr = get_user_model().objects.get(username=HR)
    for persona, user, pool in (("", hr, employees), ("manager", manager.user, reports)):
        ids = rng.sample(pool, requests) if len(pool) >= requests else rng.choices(pool, k=requests)
        timings, queries = _time_file(user, ids)
        name = f"employee_file.{persona}" if persona else "employee_file"
        add(f"{name}.median", statistics.median(timings), "ms")
        add(f"{name}.p95", percentile(timings, 95), "ms")
        add(f"{name}.queries", queries, "queries")
        print(
            f"  {name} ({user.username}, {len(pool):,} employees): "
            f"median {statistics.median(timings):.1f} ms, p95 {percentile(timings, 95):.1f} ms, "
            f"{queries} queries",
            flush=True,
        )


def _time_file(user: Any, ids: list[int]) -> tuple[list[float], int]:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client()
    client.force_login(user)

    def get(n: int) -> None:
        response = client.get(f"/people/{ids[n % len(ids)]}/file/")
        if response.status_code != 200 or b'data-testid="file-row"' not in response.content:
            raise SystemExit(f"the file of employee {ids[n % len(ids)]}: {response.status_code}")

    for n in range(WARM_UP):
        get(n)
    timings = []
    for n in range(len(ids)):
        begun = time.perf_counter()
        get(n)
        timings.append((time.perf_counter() - begun) * 1000)
    counts = []
    for n in range(QUERY_SAMPLES):
        with CaptureQueriesContext(connection) as captured:
            get(n)
        counts.append(len(captured.captured_queries))
    return timings, max(counts)


# --- on its own: a copy of a seeded database ----------------------------------------------------


def run(*, databases: list[str], sizes: list[int], requests: int, records: int) -> list[Result]:
    """Each database and size in a child process of its own, on a fresh copy of a seeded
    database (seeded first when there is none yet)."""
    results: list[Result] = []
    for database in databases:
        if database == "postgresql" and not postgres_reachable():
            print(f"PostgreSQL at {PG_SERVER} is unreachable: skipping its archive benchmark.")
            continue
        for size in sizes:
            url = _fresh_copy(database, size)
            command = [sys.executable, __file__, "--child", database, str(size)]
            command += ["--requests", str(requests), "--records", str(records)]
            done = subprocess.run(  # noqa: S603
                command, env=_env(url), check=True, stdout=subprocess.PIPE, text=True
            )
            results.extend(json.loads(done.stdout.strip().splitlines()[-1]))
    return results


def _env(url: str) -> dict[str, str]:
    return {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.bench", "DATABASE_URL": url}


def _fresh_copy(database: str, size: int) -> str:
    """The URL of a fresh copy of the seeded database of `size` employees."""
    if database == "sqlite":
        FILES.mkdir(parents=True, exist_ok=True)
        seed = FILES / f"archive-seed-{size}.sqlite3"
        if not seed.exists():
            partial = seed.with_suffix(".partial")
            partial.unlink(missing_ok=True)
            _seed(f"sqlite:///{partial}", size)
            # Everything into the main file, which alone is renamed and copied.
            with closing(sqlite3.connect(partial)) as connection:
                connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            partial.rename(seed)
        work = FILES / f"archive-{size}.sqlite3"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{work}{suffix}").unlink(missing_ok=True)
        shutil.copyfile(seed, work)
        return f"sqlite:///{work}"
    import psycopg

    seed_name = f"miantan_bench_archive_seed_{size}"
    with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as connection:
        exists = connection.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (seed_name,)
        ).fetchone()
        if not exists:
            # Seeded under another name, renamed once complete: an interrupted seeding is
            # never taken for a seeded database.
            seeding = f"{seed_name}_partial"
            connection.execute(f'DROP DATABASE IF EXISTS "{seeding}" WITH (FORCE)')
            connection.execute(f'CREATE DATABASE "{seeding}"')
            _seed(f"{PG_SERVER}/{seeding}", size)
            connection.execute(f'ALTER DATABASE "{seeding}" RENAME TO "{seed_name}"')
        connection.execute(f'DROP DATABASE IF EXISTS "{PG_WORK}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{PG_WORK}" TEMPLATE "{seed_name}"')
    return f"{PG_SERVER}/{PG_WORK}"


def _seed(url: str, size: int) -> None:
    """The dataset run.py seeds."""
    from run import KPI_MONTHS, TALKS_PER_EMPLOYEE

    started = time.perf_counter()
    for command in (
        ["migrate", "-v0"],
        [
            "seed_demo",
            "--employees",
            str(size),
            "--kpi-months",
            str(KPI_MONTHS),
            "--talks-per-employee",
            str(TALKS_PER_EMPLOYEE),
            "-v0",
        ],
    ):
        subprocess.run(  # noqa: S603
            [sys.executable, str(ROOT / "manage.py"), *command], env=_env(url), check=True
        )
    print(f"[archive] seeded {size} employees in {time.perf_counter() - started:.0f} s", flush=True)


def _child(database: str, size: int, requests: int, records: int) -> None:
    """In the child process: the measurements, printed as one JSON line."""
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    import gc

    from django.core.management import call_command

    # A copy of a seed made before the latest migrations catches up with them.
    call_command("migrate", verbosity=0)
    gc.collect()
    gc.freeze()
    results: list[Result] = []
    dataset = f"employees={size}"

    def add(name: str, value: float, unit: str) -> None:
        entry = {"name": name, "value": round(value, 2), "unit": unit, "dataset": dataset}
        results.append({**entry, "database": database})

    print(f"[archive {database} {dataset}]", file=sys.stderr, flush=True)
    with _stdout_to_stderr():
        measure_archive(add, requests, records=records)
    print(json.dumps(results))


class _stdout_to_stderr:
    """Progress goes to stderr while the child runs; stdout carries only the JSON line."""

    def __enter__(self) -> None:
        self.saved = sys.stdout
        sys.stdout = sys.stderr

    def __exit__(self, *exc: object) -> None:
        sys.stdout = self.saved


def print_results(results: list[Result], *, pages: bool = True) -> None:
    """The archive figures by database and dataset, and the targets: verification speed and,
    with `pages` (run.py checks them with the other pages), the file page's p95 and queries."""
    if not results:
        return
    print("\nSigned archive")
    for r in results:
        where = f"{r['database']} {r['dataset']}"
        print(f"  {where:28} {r['name']:40} {r['value']:>12,.2f} {r['unit']}")
    print("\nArchive targets")
    for r in results:
        if r["name"] == "archive_verify.records_per_second":
            verdict = "ok  " if r["value"] >= TARGET_RECORDS_PER_SECOND else "MISS"
            print(
                f"  {verdict} {r['database']} {r['dataset']} verify {r['value']:,.0f} "
                f"records/s >= {TARGET_RECORDS_PER_SECOND:,}"
            )
    if not pages:
        return
    for r in results:
        if r["name"].startswith("employee_file") and r["name"].endswith(".p95"):
            verdict = "ok  " if r["value"] <= FILE_P95_MS else "MISS"
            print(
                f"  {verdict} {r['database']} {r['dataset']} {r['name']} {r['value']:.1f} ms "
                f"<= {FILE_P95_MS:.0f} ms"
            )
    queries: dict[tuple[str, str], set[float]] = {}
    for r in results:
        if r["unit"] == "queries":
            queries.setdefault((r["database"], r["name"]), set()).add(r["value"])
    for (database, name), counts in queries.items():
        verdict = "ok  " if len(counts) == 1 else "MISS"
        print(f"  {verdict} {database} {name} constant ({sorted(counts)})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--databases", default="sqlite,postgresql", help="sqlite,postgresql")
    parser.add_argument("--sizes", default="100,100000", help="employees per dataset")
    parser.add_argument("--requests", type=int, default=200, help="timed file pages per persona")
    parser.add_argument("--records", type=int, default=RECORDS, help="archived records to make")
    parser.add_argument(
        "--output", default=str(RESULTS), help="JSON results to update (this benchmark's entries)"
    )
    parser.add_argument("--child", nargs=2, metavar=("DATABASE", "SIZE"), help="internal")
    args = parser.parse_args()
    if args.child:
        _child(args.child[0], int(args.child[1]), args.requests, args.records)
        return
    results = run(
        databases=_split(args.databases),
        sizes=[int(size) for size in _split(args.sizes)],
        requests=args.requests,
        records=args.records,
    )
    print_results(results)
    for prefix in PREFIXES:
        merge_results(
            [r for r in results if r["name"].startswith(prefix)], Path(args.output), prefix=prefix
        )
    print(f"\nUpdated {len(results)} figures in {args.output}")


PREFIXES = ("archive_create.", "archive_verify.", "pdf_export.", "employee_file.")


def _split(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


if __name__ == "__main__":
    main()
