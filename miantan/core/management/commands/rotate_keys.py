"""`manage.py rotate_keys`: re-seal every sealed value under the current data key (the first of
MIANTAN_DATA_KEYS), so that the older keys can be removed from the ring.

What is sealed is found in the models, never listed by hand:

- every `EncryptedTextField` and `EncryptedJSONField` (one context per column);
- columns a model seals row by row, declared as ``SEALED_BY_ROW = {"field": "method"}``: the
  column holds tokens and ``method(self) -> str`` is the context of that row (a private note is
  sealed for its author);
- sealed files, declared as ``SEALED_FILES = {"field": "method"}``: the column holds the path of
  a file under MIANTAN_ATTACHMENT_ROOT sealed with `crypto.encrypt_bytes` under the context the
  method returns. A file is re-sealed into a new file that then replaces it.

Values are re-sealed in batches (``--batch-size``), each batch in its own transaction with its
rows locked, and the progress printed as ``app.model.field: done/total``. Only values whose key
id is not the current one are read, so a run that stopped half-way continues where it stopped
when it is started again, and a second run after a complete one changes nothing. ``--check``
changes nothing either: it counts what is not yet under the current key (exit status 1 if any).
"""

from __future__ import annotations

import os
import stat
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.exceptions import FieldDoesNotExist
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import models, transaction
from django.db.models.functions import Cast

from miantan.core import crypto, rowlocks
from miantan.core.fields import EncryptedJSONField, EncryptedTextField

DEFAULT_BATCH_SIZE = 500
# The raw token of a sealed column, read past the field (which would open it).
RAW = "_sealed_token"
# How much of a sealed file is read to learn its key id: "mt1:" and an id of at most 16.
HEADER_BYTES = 32

Report = Callable[[str, int, int], None]


@dataclass(frozen=True)
class SealedColumn:
    """A column of tokens: sealed with the field's context, or row by row (`method`)."""

    model: type[models.Model]
    field: Any
    method: str = ""

    @property
    def label(self) -> str:
        return f"{self.model._meta.label_lower}.{self.field.name}"

    def context(self, row: Any) -> str:
        if self.method:
            return str(getattr(row, self.method)())
        return str(self.field.sealing_context)


@dataclass(frozen=True)
class SealedFiles:
    """A column of paths (under MIANTAN_ATTACHMENT_ROOT) of files sealed row by row."""

    model: type[models.Model]
    field: Any
    method: str

    @property
    def label(self) -> str:
        return f"{self.model._meta.label_lower}.{self.field.name} (files)"

    def context(self, row: Any) -> str:
        return str(getattr(row, self.method)())


def sealed_models() -> list[type[models.Model]]:
    """The models whose tables may hold sealed values (a proxy shares its model's table)."""
    return [model for model in apps.get_models() if model._meta.managed and not model._meta.proxy]


def discover(
    models_: list[type[models.Model]] | None = None,
) -> tuple[list[SealedColumn], list[SealedFiles]]:
    """The sealed columns and sealed files of `models_` (every installed model by default)."""
    columns: list[SealedColumn] = []
    files: list[SealedFiles] = []
    for model in sealed_models() if models_ is None else models_:
        by_row = dict(getattr(model, "SEALED_BY_ROW", {}) or {})
        for name, method in by_row.items():
            _declared(model, name, method, "SEALED_BY_ROW")
        for field in model._meta.concrete_fields:
            if field.name in by_row:
                columns.append(SealedColumn(model, field, by_row[field.name]))
            elif isinstance(field, EncryptedTextField | EncryptedJSONField):
                columns.append(SealedColumn(model, field))
        for name, method in dict(getattr(model, "SEALED_FILES", {}) or {}).items():
            files.append(SealedFiles(model, _declared(model, name, method, "SEALED_FILES"), method))
    return columns, files


def _declared(model: type[models.Model], name: str, method: str, where: str) -> Any:
    try:
        field = model._meta.get_field(name)
    except FieldDoesNotExist:
        raise CommandError(f"{model._meta.label}.{where} names no field '{name}'") from None
    if not callable(getattr(model, method, None)):
        raise CommandError(f"{model._meta.label}.{where} names no method '{method}'")
    return field


# --- columns ----------------------------------------------------------------------------------


def pending(column: SealedColumn, current: str) -> models.QuerySet[Any]:
    """The rows whose value in the column is sealed under another key than `current`."""
    raw = Cast(column.field.name, output_field=models.TextField())
    return (
        column.model._base_manager.annotate(**{RAW: raw})
        .filter(**{f"{RAW}__isnull": False})
        .exclude(**{RAW: ""})
        .exclude(**{f"{RAW}__startswith": f"{crypto.PREFIX}:{current}:"})
    )


def rotate_column(column: SealedColumn, *, batch_size: int, report: Report) -> int:
    """Re-seal the column's values that are not under the current key; returns how many."""
    current = crypto.data_ring().current_id
    rows = pending(column, current)
    total = rows.count()
    done, last = 0, None
    report(column.label, done, total)
    # Loading a row must not open its other sealed columns (nor fail on them).
    unopened = [c.field.name for c in discover([column.model])[0]]
    while True:
        with transaction.atomic():
            batch = rows if last is None else rows.filter(pk__gt=last)
            batch = batch.order_by("pk").select_for_update()
            if column.method:
                found = [
                    (row, row.pk, getattr(row, RAW)) for row in batch.defer(*unopened)[:batch_size]
                ]
            else:
                found = [
                    (None, pk, token) for pk, token in batch.values_list("pk", RAW)[:batch_size]
                ]
            if not found:
                return done
            changed = []
            for row, pk, token in found:
                new = _resealed(column, row, pk, token)
                if new != token:
                    changed.append(_row_with(column, row, pk, new))
            if changed:
                # The same values under the new key: rows of archived records included.
                with rowlocks.lifted():
                    column.model._base_manager.bulk_update(changed, [column.field.name])
        done += len(found)
        last = found[-1][1]
        report(column.label, done, total)


def _resealed(column: SealedColumn, row: Any, pk: Any, token: str) -> str:
    try:
        return crypto.reseal(token, context=column.context(row))
    except crypto.DecryptionError as error:
        raise CommandError(f"{column.label} #{pk}: {error}") from None


def _row_with(column: SealedColumn, row: Any, pk: Any, token: str) -> models.Model:
    row = row if row is not None else column.model(pk=pk)
    setattr(row, column.field.attname, crypto.Sealed(token))
    return row


# --- files ------------------------------------------------------------------------------------


def attachment_root() -> Path:
    return Path(
        getattr(settings, "MIANTAN_ATTACHMENT_ROOT", "") or settings.VAR_DIR / "attachments"
    )


def _file_rows(files: SealedFiles) -> models.QuerySet[Any]:
    name = files.field.name
    return (
        files.model._base_manager.filter(**{f"{name}__isnull": False})
        .exclude(**{name: ""})
        .order_by("pk")
    )


def _path_of(files: SealedFiles, row: Any, root: Path) -> Path:
    stored = str(getattr(row, files.field.attname) or "")
    path = (root / stored).resolve()
    if not path.is_relative_to(root.resolve()):
        raise CommandError(f"{files.label} #{row.pk}: the path leaves the attachment folder")
    return path


def _file_key_id(path: Path) -> str:
    with path.open("rb") as handle:
        return crypto.bytes_key_id(handle.read(HEADER_BYTES))


def rotate_files(
    files: SealedFiles, *, batch_size: int, report: Report, missing: list[str], check: bool = False
) -> int:
    """Re-seal (or, with `check`, count) the files not under the current key; returns how
    many. Files that are gone are added to `missing` and left for the operator."""
    current = crypto.data_ring().current_id
    root = attachment_root()
    rows = _file_rows(files)
    total = rows.count()
    unopened = [c.field.name for c in discover([files.model])[0]]
    seen = resealed = 0
    last = None
    if not check:
        report(files.label, seen, total)
    while seen < total:
        batch = rows if last is None else rows.filter(pk__gt=last)
        found = list(batch.defer(*unopened)[:batch_size])
        if not found:
            break
        for row in found:
            path = _path_of(files, row, root)
            if not path.is_file():
                missing.append(f"{files.label} #{row.pk}: {path.relative_to(root.resolve())}")
                continue
            if _file_key_id(path) == current:
                continue
            resealed += 1
            if not check:
                _reseal_file(files, row, path)
        seen += len(found)
        last = found[-1].pk
        if not check:
            report(files.label, seen, total)
    return resealed


def _reseal_file(files: SealedFiles, row: Any, path: Path) -> None:
    try:
        data = crypto.reseal_bytes(path.read_bytes(), context=files.context(row))
    except crypto.DecryptionError as error:
        raise CommandError(f"{files.label} #{row.pk}: {error}") from None
    # The new content is written beside the file and renamed over it: a reader sees the old
    # file or the new one, never half of one.
    partial = path.with_name(f".{path.name}.{uuid.uuid4().hex}.part")
    try:
        with partial.open("xb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(partial, stat.S_IMODE(path.stat().st_mode))
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


# --- the command ------------------------------------------------------------------------------


class Command(BaseCommand):
    help = (
        "Re-seal every encrypted value and file under the current data key (the first of"
        " MIANTAN_DATA_KEYS), in batches; resumable. Afterwards the older keys can be removed."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--batch-size",
            type=int,
            default=DEFAULT_BATCH_SIZE,
            help=f"rows per transaction (default {DEFAULT_BATCH_SIZE})",
        )
        parser.add_argument(
            "--check",
            action="store_true",
            help="change nothing; count the values not yet under the current key (exit status 1"
            " when there are any)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        batch_size = options["batch_size"]
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1")
        current = crypto.data_ring().current_id
        columns, files = discover()
        if options["check"]:
            self._check(columns, files, current, batch_size)
            return
        self.stdout.write(f"re-sealing under key '{current}'")
        missing: list[str] = []
        values = sum(rotate_column(c, batch_size=batch_size, report=self._report) for c in columns)
        sealed_files = sum(
            rotate_files(f, batch_size=batch_size, report=self._report, missing=missing)
            for f in files
        )
        self._missing(missing)
        self.stdout.write(
            self.style.SUCCESS(
                f"{values} value(s) and {sealed_files} file(s) re-sealed; everything is under key"
                f" '{current}': the other keys can be removed from MIANTAN_DATA_KEYS"
            )
        )

    def _check(
        self, columns: list[SealedColumn], files: list[SealedFiles], current: str, batch_size: int
    ) -> None:
        left = 0
        for column in columns:
            count = pending(column, current).count()
            self.stdout.write(f"{column.label}: {count} not under key '{current}'")
            left += count
        missing: list[str] = []
        for sealed in files:
            count = rotate_files(
                sealed, batch_size=batch_size, report=self._report, missing=missing, check=True
            )
            self.stdout.write(f"{sealed.label}: {count} not under key '{current}'")
            left += count
        self._missing(missing)
        if left:
            raise CommandError(f"{left} sealed value(s) or file(s) are not under key '{current}'")
        self.stdout.write(self.style.SUCCESS(f"everything is sealed under key '{current}'"))

    def _report(self, label: str, done: int, total: int) -> None:
        self.stdout.write(f"{label}: {done}/{total}")

    def _missing(self, missing: list[str]) -> None:
        for line in missing:
            self.stderr.write(f"missing file: {line}")
        if missing:
            raise CommandError(f"{len(missing)} sealed file(s) are missing; the others are done")
