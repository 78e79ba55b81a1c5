"""KPI files uploaded in the browser: stored, imported in the background, their outcome kept.

`start_metrics_import` stores the upload as a pending MetricsImport and queues
`run_metrics_import`, which runs the same import as `manage.py import_metrics` (importing.py)
and keeps the result in `report`: the problems by row and column, or the counts. The worker
holds a lease on the import (core/leases.py); `take_back_stalled_metrics_imports` retries or
fails an import whose worker died.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from django.core.exceptions import PermissionDenied
from django.core.files import File
from django.db import connection, transaction
from django.db.models import QuerySet
from django.http import Http404
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from miantan.audit.services import record
from miantan.core.leases import claim, kept_alive, take_back_expired
from miantan.core.observability import KPI_IMPORT_SECONDS
from miantan.people.models import Employee, Organisation
from miantan.people.rules import can_import_org
from miantan.people.scopes import scope_for

from .enums import ImportStatus
from .importing import import_values_file
from .models import MetricsImport
from .values_file import ValuesFile

__all__ = [
    "access_metrics_import",
    "metrics_imports_visible_to",
    "run_metrics_import",
    "start_metrics_import",
    "take_back_stalled_metrics_imports",
]

logger = logging.getLogger(__name__)


def start_metrics_import(
    organisation: Organisation, *, upload: File[Any], original_name: str, actor: Any
) -> MetricsImport:
    """Store the file and run the import in the background once this transaction commits.
    Only who may import into the organisation may (PermissionDenied; no actor: the command
    line)."""
    # tasks.py imports this module, so the task is looked up only when needed.
    from .tasks import run_metrics_import_task

    if actor is not None and not (
        can_import_org.test(actor) and scope_for(actor).organisation_id == organisation.pk
    ):
        raise PermissionDenied

    suffix = original_name.rsplit(".", 1)[-1].lower() if "." in original_name else ""
    with transaction.atomic():
        metrics_import = MetricsImport(
            organisation=organisation,
            uploaded_by=actor if getattr(actor, "is_authenticated", False) else None,
            original_name=original_name[:255],
        )
        # The stored name is random: the original one is kept for display only.
        metrics_import.file.save(f"{uuid.uuid4().hex}.{suffix}", upload, save=False)
        metrics_import.save()
        transaction.on_commit(lambda: run_metrics_import_task.enqueue(metrics_import.pk))
    return metrics_import


def run_metrics_import(metrics_import: MetricsImport) -> MetricsImport:
    """Import the stored file, all or nothing; the outcome lands in `report`.

    Runs once per claim: an import that is not pending is returned as it is. Messages are
    written in the language of the person who uploaded the file.
    """
    attempt = claim(MetricsImport, metrics_import.pk)
    metrics_import.refresh_from_db()
    if attempt is None:
        return metrics_import
    started = time.perf_counter()
    with (
        translation.override(_language_of(metrics_import.uploaded_by)),
        kept_alive(MetricsImport, metrics_import.pk, attempt),
    ):
        try:
            _run(metrics_import)
        except Exception:
            logger.exception("KPI import %s failed", metrics_import.pk)
            failure = _("The import stopped because of an unexpected error; nothing was changed.")
            report = {"errors": [{"row": None, "column": "", "message": failure}], "summary": {}}
            _finish(metrics_import, ImportStatus.FAILED, report)
    KPI_IMPORT_SECONDS.labels(metrics_import.status).observe(time.perf_counter() - started)
    return metrics_import


def _run(metrics_import: MetricsImport) -> None:
    with (
        metrics_import.file.open("rb") as stream,
        _progress_saver(metrics_import) as progress,
    ):
        outcome, values_file = import_values_file(
            metrics_import.organisation,
            stream,
            name=metrics_import.file.name or "",
            actor=metrics_import.uploaded_by,
            progress=progress,
        )
    metrics_import.total_rows = outcome.rows
    report = {
        "errors": [error.as_dict() for error in outcome.row_errors(values_file)],
        "problem_count": outcome.problem_count,
        "summary": outcome.summary(),
        "message": outcome.message(),
        "notes": outcome.notes,
        "ignored_columns": values_file.ignored_columns if values_file else [],
        **_layout_report(values_file),
    }
    status = ImportStatus.DONE if outcome.applied else ImportStatus.REJECTED
    _finish(metrics_import, status, report)


def _layout_report(values_file: ValuesFile | None) -> dict[str, Any]:
    """Where the header was found and which rows were not read as data."""
    if values_file is None:
        return {}
    return {
        "header_row": values_file.header_row,
        "rows_above": [note.as_dict() for note in values_file.skipped],
        "rows_after": [note.as_dict() for note in values_file.notes],
    }


def _finish(metrics_import: MetricsImport, status: str, report: dict[str, Any]) -> None:
    metrics_import.status = status
    metrics_import.processed_rows = metrics_import.total_rows
    metrics_import.finished_at = timezone.now()
    metrics_import.lease_until = None
    metrics_import.report = report
    metrics_import.save(
        update_fields=[
            "status",
            "total_rows",
            "processed_rows",
            "finished_at",
            "lease_until",
            "report",
            "updated_at",
        ]
    )


def take_back_stalled_metrics_imports(organisation_id: int | None = None) -> int:
    """Imports whose worker stopped without finishing (their lease ran out): queued again
    while attempts remain, failed after that. Returns how many were taken back."""
    imports = MetricsImport.objects.all()
    if organisation_id is not None:
        imports = imports.filter(organisation_id=organisation_id)
    return take_back_expired(imports, retry=_retry_interrupted, fail=_fail_interrupted)


def _retry_interrupted(metrics_import: MetricsImport) -> None:
    from .tasks import run_metrics_import_task

    record(
        "metrics.import.interrupted",
        actor=None,
        obj=metrics_import,
        organisation_id=metrics_import.organisation_id,
        data={
            "file": metrics_import.original_name,
            "attempt": metrics_import.attempts,
            "retry": True,
        },
    )
    transaction.on_commit(lambda: run_metrics_import_task.enqueue(metrics_import.pk))


def _fail_interrupted(metrics_import: MetricsImport) -> None:
    # The values commit just before the import is marked done, so a worker that stopped in
    # between may have written them: promise only that a second import writes nothing twice.
    with translation.override(_language_of(metrics_import.uploaded_by)):
        message = ngettext(
            "The import was interrupted %(count)s time (the process running it stopped) and is "
            "not tried again. Upload the file again: values already imported are not imported "
            "twice.",
            "The import was interrupted %(count)s times (the process running it stopped) and is "
            "not tried again. Upload the file again: values already imported are not imported "
            "twice.",
            metrics_import.attempts,
        ) % {"count": metrics_import.attempts}
    metrics_import.report = {
        "errors": [{"row": None, "column": "", "message": message}],
        "summary": {},
        "interrupted": metrics_import.attempts,
    }
    metrics_import.save(update_fields=["report"])
    record(
        "metrics.import.failed",
        actor=metrics_import.uploaded_by,
        obj=metrics_import,
        organisation_id=metrics_import.organisation_id,
        data={"file": metrics_import.original_name, "interrupted": metrics_import.attempts},
    )


@contextmanager
def _progress_saver(metrics_import: MetricsImport) -> Iterator[Callable[[int], None] | None]:
    """Saves the rows checked so far where the progress page can see them.

    The import is one transaction, so its own connection cannot show progress before the end.
    On PostgreSQL a second, autocommitting connection writes the count; SQLite allows one writer
    at a time, so there the page shows no count until the import is done.
    """
    if connection.vendor != "postgresql":
        yield None
        return
    side = connection.get_new_connection(connection.get_connection_params())
    side.autocommit = True
    table = MetricsImport._meta.db_table

    def save(rows: int) -> None:
        side.execute(
            f"UPDATE {table} SET processed_rows = %s WHERE id = %s",  # noqa: S608
            (rows, metrics_import.pk),
        )

    try:
        yield save
    finally:
        side.close()


def _language_of(user: Any) -> str:
    saved = None
    if user is not None:
        saved = Employee.objects.filter(user_id=user.pk).values_list("language", flat=True).first()
    return saved or translation.get_language() or "zh-hans"


def metrics_imports_visible_to(user: Any) -> QuerySet[MetricsImport]:
    """HR for the whole organisation and administrators see its KPI imports; nobody else."""
    scope = scope_for(user)
    if scope.organisation_id is None or not can_import_org.test(user):
        return MetricsImport.objects.none()
    return MetricsImport.objects.filter(organisation_id=scope.organisation_id).select_related(
        "uploaded_by__employee"
    )


def access_metrics_import(user: Any, import_id: int) -> MetricsImport:
    found = metrics_imports_visible_to(user).filter(pk=import_id).first()
    if found is None:
        raise Http404
    return found
