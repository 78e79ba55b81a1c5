"""Files attached to a talk's record (PRODUCT.md C9): evidence, forms.

What is accepted is decided by the content, never by the name: PDF, PNG, JPEG, GIF, WebP,
Word/Excel/PowerPoint documents (Office Open XML, checked as a zip whose [Content_Types].xml
names the document's main part, macros refused) and plain text or CSV (valid UTF-8 without NUL
bytes and without markup). HTML, SVG, scripts and everything else are refused, and a name
whose extension does not fit the content gets the right one added ("x.html" sent as text is
kept as "x.html.txt").

The content is sealed (`encrypt_bytes` under `Attachment.file_context()`) and written
atomically under MIANTAN_ATTACHMENT_ROOT with a random name; the name the person gave is
stored sealed in the database. A file is read only through `open_attachment`, which checks
who may (the people who see the record, or a colleague mentioned in the file's section) and
audits the reading; the pages serve it as a download that no browser renders inline.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import secrets
import unicodedata
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, Any, NoReturn
from urllib.parse import quote

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from miantan.audit.enums import Outcome
from miantan.audit.services import record as audit
from miantan.core.crypto import DecryptionError, decrypt_bytes, encrypt_bytes
from miantan.core.errors import ConflictError, InvalidFields
from miantan.core.ids import as_id
from miantan.people.models import Employee

from . import definitions
from .mentions import sections_mentioned
from .models import Attachment, Record
from .rules import follows, may_attach, own_employee, side_of

MAX_NAME = 150
# [Content_Types].xml of a real document is a few kilobytes; more is not read.
MAX_CONTENT_TYPES_XML = 256 * 1024

PDF = "application/pdf"
PNG = "image/png"
JPEG = "image/jpeg"
GIF = "image/gif"
WEBP = "image/webp"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PPTX = "application/vnd.openxmlformats-officedocument.presentationml.presentation"
TEXT = "text/plain"
CSV = "text/csv"

# The extensions a name may keep for each kind; the first is added when it has none of them.
EXTENSIONS: dict[str, tuple[str, ...]] = {
    PDF: (".pdf",),
    PNG: (".png",),
    JPEG: (".jpg", ".jpeg"),
    GIF: (".gif",),
    WEBP: (".webp",),
    DOCX: (".docx",),
    XLSX: (".xlsx",),
    PPTX: (".pptx",),
    TEXT: (".txt", ".text", ".md", ".log"),
    CSV: (".csv",),
}
# The main part of each Office Open XML document, as its [Content_Types].xml names it, and
# the folder that part lives in.
_OFFICE_MAIN = {
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml": (
        DOCX,
        "word/",
    ),
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml": (XLSX, "xl/"),
    "application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml": (
        PPTX,
        "ppt/",
    ),
}
_CONTENT_TYPE = re.compile(rb'ContentType\s*=\s*"([^"]{1,200})"')
_MACROS = (b"vbaProject", b"macroEnabled", b"activeX")
# Text that a browser could take for a page or a picture with scripts.
_MARKUP = re.compile(
    r"</?(?:!doctype|\?xml|html|head|body|script|svg|iframe|frame|object|embed|meta|"
    r"link|style|img|a|form|math|xsl|template)\b",
    re.IGNORECASE,
)
_UNSAFE_NAME = re.compile(r'[\\/:*?"<>|\x00-\x1f\x7f]')


class InvalidAttachment(InvalidFields):
    error_code = "invalid_attachment"


@dataclass(frozen=True)
class AttachmentView:
    """An attachment as a reader sees it in the list."""

    attachment: Attachment
    name: str
    section_title: str
    removable: bool

    @property
    def pk(self) -> int:
        return self.attachment.pk

    @property
    def size(self) -> int:
        return self.attachment.size

    @property
    def content_type(self) -> str:
        return self.attachment.content_type

    @property
    def section(self) -> str:
        return self.attachment.section


@dataclass(frozen=True)
class Download:
    name: str
    content_type: str
    content: bytes


# --- what a file is ---------------------------------------------------------------------------


def sniff(data: bytes, name: str = "") -> str | None:
    """The content type of `data` among the accepted kinds, read from the content; `name`
    only tells CSV from plain text. None for anything else."""
    if data.startswith(b"%PDF-"):
        return PDF
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if data.startswith(b"\xff\xd8\xff"):
        return JPEG
    if data.startswith((b"GIF87a", b"GIF89a")):
        return GIF
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return WEBP
    if data.startswith(b"PK\x03\x04"):
        return _office(data)
    if _is_text(data):
        return CSV if name.lower().endswith(".csv") else TEXT
    return None


def _office(data: bytes) -> str | None:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            info = archive.getinfo("[Content_Types].xml")
            if info.file_size > MAX_CONTENT_TYPES_XML:
                return None
            types = archive.read(info)
            names = archive.namelist()
    except (zipfile.BadZipFile, KeyError, ValueError, NotImplementedError, OSError, EOFError):
        return None
    if any(sign in types for sign in _MACROS) or any("vbaProject" in n for n in names):
        return None
    found = {
        _OFFICE_MAIN[declared.decode("ascii", "replace")]
        for declared in _CONTENT_TYPE.findall(types)
        if declared.decode("ascii", "replace") in _OFFICE_MAIN
    }
    if len(found) != 1:
        return None
    kind, folder = found.pop()
    return kind if any(name.startswith(folder) for name in names) else None


def _is_text(data: bytes) -> bool:
    if b"\x00" in data:
        return False
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return False
    return not text.lstrip().startswith("#!") and _MARKUP.search(text) is None


def clean_name(name: str, content_type: str) -> str:
    """The file name as stored and offered for download: no folders, no control or reserved
    characters, at most MAX_NAME characters, with an extension that fits the content."""
    base = PurePosixPath(str(name or "").replace("\\", "/")).name
    base = _UNSAFE_NAME.sub("", unicodedata.normalize("NFC", base)).strip().strip(".")
    extensions = EXTENSIONS[content_type]
    if not base.lower().endswith(extensions):
        base = f"{base or _('attachment')}{extensions[0]}"
    stem, extension = os.path.splitext(base)
    return stem[: MAX_NAME - len(extension)] + extension


# --- reading ----------------------------------------------------------------------------------


def attachments_for(user: Any, record: Record) -> list[AttachmentView]:
    """The record's files the user may open: all of them for the people who see the record,
    those of the mentioned sections for a mentioned colleague. Oldest first."""
    whole, sections = _reach(user, record)
    if not whole and not sections:
        return []
    files = Attachment.objects.filter(record=record, removed_at__isnull=True)
    if not whole:
        files = files.filter(section__in=sections)
    own = own_employee(user)
    writable = may_attach(side_of(user, record.talk), record)
    definition = definitions.parse(record.template_version.definition)
    views = []
    for attachment in files.select_related("uploaded_by").order_by("created_at", "pk"):
        section = definition.section(attachment.section) if attachment.section else None
        views.append(
            AttachmentView(
                attachment=attachment,
                name=attachment.name,
                section_title=definitions.localized(section.title) if section else "",
                removable=writable and own is not None and attachment.uploaded_by_id == own.pk,
            )
        )
    return views


def access_attachment(user: Any, record: Record, attachment_id: Any) -> Attachment:
    """One file of the record the user may open, else 404 (audited as
    `records.attachment.viewed` denied): a removed file, one of a section the user was not
    mentioned in, or an id of another record look the same."""
    pk = as_id(attachment_id)
    whole, sections = _reach(user, record)
    attachment = None
    if pk is not None and (whole or sections):
        files = Attachment.objects.filter(record=record, pk=pk, removed_at__isnull=True)
        if not whole:
            files = files.filter(section__in=sections)
        attachment = files.first()
    if attachment is None:
        talk = record.talk
        audit(
            "records.attachment.viewed",
            actor=user,
            outcome=Outcome.DENIED,
            object_type="records.attachment",
            object_id=str(attachment_id)[:64],
            subject_id=talk.employee_id,
            organisation_id=talk.organisation_id,
        )
        raise Http404
    attachment.record = record
    return attachment


def open_attachment(user: Any, record: Record, attachment_id: Any) -> Download:
    """The file's content, opened for a reader who may (`access_attachment`); audited. A file
    whose sealed content was changed, or that is missing, fails loudly (DecryptionError)."""
    attachment = access_attachment(user, record, attachment_id)
    blob = _path(attachment).read_bytes()
    content = decrypt_bytes(blob, context=attachment.file_context())
    if hashlib.sha256(content).hexdigest() != attachment.sha256:
        raise DecryptionError("the attachment does not match the digest taken when it was added")
    talk = record.talk
    audit(
        "records.attachment.viewed",
        actor=user,
        obj=attachment,
        subject_id=talk.employee_id,
        organisation_id=talk.organisation_id,
    )
    return Download(name=attachment.name, content_type=attachment.content_type, content=content)


def download_headers(download: Download) -> dict[str, str]:
    """The headers that make a browser save the file, never show or run it: attachment
    disposition with the UTF-8 name, no sniffing, a sandbox for whatever opens it anyway."""
    plain = download.name.encode("ascii", "ignore").decode()
    plain = re.sub(r'["\\;]', "", plain).strip() or "attachment"
    return {
        "Content-Disposition": (
            f"attachment; filename=\"{plain}\"; filename*=UTF-8''{quote(download.name, safe='')}"
        ),
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "sandbox",
        "Cache-Control": "private, no-store",
    }


def read_upload(upload: IO[bytes]) -> bytes:
    """At most one byte more than the largest file allowed: enough to refuse a bigger one
    without reading all of it."""
    return upload.read(settings.MIANTAN_ATTACHMENT_MAX_BYTES + 1)


def _reach(user: Any, record: Record) -> tuple[bool, set[str]]:
    """(sees the whole record, sections the user was mentioned in)."""
    talk = record.talk
    if side_of(user, talk) is not None or follows(user, talk):
        return True, set()
    return False, sections_mentioned(user, record)


# --- writing ----------------------------------------------------------------------------------


def add_attachment(
    record: Record, *, actor: Any, name: str, data: bytes, section: str = ""
) -> Attachment:
    """Attach a file to the record, or to one of its sections. The two people and HR, while
    the record is written; the content decides whether it is accepted."""
    own = _uploader(actor, record, "records.attachment.added")
    section = (section or "").strip()
    if section and definitions.parse(record.template_version.definition).section(section) is None:
        raise InvalidAttachment({"section": _("This section is not part of the record.")})
    content_type = _check(data, name)
    attachment = Attachment(
        record=record,
        section=section,
        uploaded_by=own,
        name=clean_name(name, content_type),
        content_type=content_type,
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        path=_random_path(),
    )
    target = _path(attachment)
    _write_atomically(target, encrypt_bytes(data, context=attachment.file_context()))
    try:
        with transaction.atomic():
            attachment.save(force_insert=True)
            _audit("records.attachment.added", actor, attachment)
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    return attachment


def remove_attachment(attachment: Attachment, *, actor: Any) -> Attachment:
    """The uploader takes the file back while the record is written; the sealed file is
    deleted once the removal is committed."""
    record = attachment.record
    own = _uploader(actor, record, "records.attachment.removed")
    if attachment.uploaded_by_id != own.pk:
        _refuse("records.attachment.removed", actor, record)
    with transaction.atomic():
        target = _path(attachment)
        # No path left: nothing reads the file again, and key rotation looks for it no more.
        attachment.removed_at, attachment.path = timezone.now(), ""
        attachment.save(update_fields=["removed_at", "path"])
        _audit("records.attachment.removed", actor, attachment)
        transaction.on_commit(lambda: target.unlink(missing_ok=True))
    return attachment


def _uploader(actor: Any, record: Record, action: str) -> Employee:
    own = own_employee(actor)
    side = side_of(actor, record.talk)
    if own is None or side is None:
        _refuse(action, actor, record)
    if not may_attach(side, record):
        # One of the record's people, after it was confirmed.
        raise ConflictError(
            _("The record is confirmed: its files no longer change."), code="locked"
        )
    return own


def _check(data: bytes, name: str) -> str:
    limit = settings.MIANTAN_ATTACHMENT_MAX_BYTES
    if not data:
        raise InvalidAttachment({"file": _("The file is empty.")})
    if len(data) > limit:
        raise InvalidAttachment(
            {
                "file": _("The file is too large: at most %(size)s MB.")
                % {"size": f"{limit / (1024 * 1024):g}"}
            }
        )
    content_type = sniff(data, name)
    if content_type is None:
        raise InvalidAttachment(
            {
                "file": _(
                    "This kind of file cannot be attached. Attach a PDF, an image (PNG, JPEG, "
                    "GIF, WebP), a Word, Excel or PowerPoint document, or a text or CSV file."
                )
            }
        )
    return content_type


def _root() -> Path:
    return Path(settings.MIANTAN_ATTACHMENT_ROOT).resolve()


def _random_path() -> str:
    """A random name in one of 256 folders; nothing of the person's file name."""
    name = secrets.token_hex(16)
    return f"{name[:2]}/{name}"


def _path(attachment: Attachment) -> Path:
    root = _root()
    target = (root / attachment.path).resolve()
    if not target.is_relative_to(root) or target == root:
        raise DecryptionError("the attachment's stored path leaves MIANTAN_ATTACHMENT_ROOT")
    return target


def _write_atomically(target: Path, blob: bytes) -> None:
    """Write to a temporary file beside the target and rename it: a reader never sees half a
    file, and a crash leaves no file under the target's name."""
    target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.{secrets.token_hex(4)}.part")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(blob)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def _audit(action: str, actor: Any, attachment: Attachment) -> None:
    talk = attachment.record.talk
    audit(
        action,
        actor=actor,
        obj=attachment,
        subject_id=talk.employee_id,
        organisation_id=talk.organisation_id,
        data={
            "section": attachment.section,
            "content_type": attachment.content_type,
            "size": attachment.size,
        },
    )


def _refuse(action: str, actor: Any, record: Record) -> NoReturn:
    talk = record.talk
    audit(
        action,
        actor=actor,
        outcome=Outcome.DENIED,
        obj=record,
        subject_id=talk.employee_id,
        organisation_id=talk.organisation_id,
    )
    raise PermissionDenied


__all__ = [
    "AttachmentView",
    "Download",
    "InvalidAttachment",
    "access_attachment",
    "add_attachment",
    "attachments_for",
    "clean_name",
    "open_attachment",
    "read_upload",
    "remove_attachment",
    "sniff",
]
