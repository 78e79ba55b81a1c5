"""The signed PDF of an archived record (D5): Chinese text in embedded Noto CJK fonts, every
part of the record on A4 pages, and a PAdES signature that poppler's pdfsig and pyHanko both
accept, and both reject once a single signed byte changes."""

from __future__ import annotations

import io
import re
import shutil
import stat
import struct
import subprocess
import zlib
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import time_machine
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.test import override_settings
from pyhanko.keys import load_cert_from_pemder
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko.sign.validation.pdf_embedded import EmbeddedPdfSignature
from pyhanko.sign.validation.status import PdfSignatureStatus, SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext

from miantan.archive import pdf as archive_pdf
from miantan.archive.document import (
    ArchiveDocument,
    DocumentAppeal,
    DocumentLine,
    DocumentSection,
    DocumentSignature,
)

SNAPSHOT = "5f1c2a9e8b7d6c4f3e2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e"
PUBLIC_KEY = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
SEAL = "9e4d1b7c" * 8
SIGNED_AT = datetime(2026, 11, 5, 2, 30, 15, tzinfo=UTC)  # 10:30:15 in Beijing
CLOCK = datetime(2026, 11, 6, 9, 0, tzinfo=UTC)
# A4 is 595.28 points wide; the page margins are 16 mm (45.35 points) on both sides.
TEXT_RIGHT_EDGE = 595.28 - 45.35
HANDWRITING_SIZE = (48, 16)


def handwriting_png(width: int, height: int) -> bytes:
    """A small greyscale PNG with a dark stroke, as a signature pad would send."""
    rows = b"".join(
        b"\x00" + bytes(0 if abs(y - x * height // width) <= 1 else 255 for x in range(width))
        for y in range(height)
    )

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def talk_document(language: str = "zh-hans", **changes: object) -> ArchiveDocument:
    employee = DocumentSignature(
        side="employee",
        side_label="员工",
        name="王芳",
        signed_at=SIGNED_AT,
        method="密码",
        ip="203.0.113.24",
        user_agent="Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/131.0",
        record_version=3,
        snapshot_sha256=SNAPSHOT,
        server_signature="ab" * 64,
        key_id="ed25519-2026-01",
        provider="Miantan",
        dissent=True,
        dissent_reason="我不同意第三项：夜班人手不足不是我个人的问题。",
        handwriting_png=handwriting_png(*HANDWRITING_SIZE),
    )
    manager = replace(
        employee,
        side="manager",
        side_label="上级",
        name="周敏",
        signed_at=SIGNED_AT + timedelta(minutes=12),
        method="一次性验证码",
        server_signature="cd" * 64,
        dissent=False,
        dissent_reason="",
        handwriting_png=None,
    )
    document = ArchiveDocument(
        language=language,
        organisation="仁心医院",
        talk_id=4711,
        topic="2026 年第三季度绩效面谈",
        employee_name="王芳",
        employee_number="N-0042",
        department="心内科护理组",
        manager_name="周敏",
        held_at=SIGNED_AT - timedelta(hours=1),
        template_name="季度绩效面谈",
        template_version=2,
        record_version=3,
        snapshot_sha256=SNAPSHOT,
        chain_seq=128,
        chain_seal=SEAL,
        public_key=PUBLIC_KEY,
        sections=(
            DocumentSection(
                title="自我评价",
                filled_by="员工",
                lines=(
                    DocumentLine("本季度的主要成绩", "完成了新护士的带教，病人满意度 96%。"),
                    DocumentLine("遇到的困难", "夜班人手不足。\n交接班记录系统经常卡顿。"),
                ),
            ),
            DocumentSection(
                title="改进计划",
                filled_by="双方",
                lines=(
                    DocumentLine("目标", "投诉率下降 50%"),
                    DocumentLine("第三项", "增加夜班巡视次数"),
                    DocumentLine("备注", ""),
                ),
            ),
        ),
        signatures=(employee, manager),
        appeals=(
            DocumentAppeal(
                opened_at=SIGNED_AT + timedelta(days=1),
                opened_by="王芳",
                reason="第三项的结论与排班记录不符。",
                state_label="已处理",
                outcome_label="部分采纳",
                resolution="第三项改为由护士长协调排班。",
                resolved_by="人事 陈静",
                resolved_at=SIGNED_AT + timedelta(days=3),
            ),
        ),
    )
    return replace(document, **changes)  # type: ignore[arg-type]


def run_tool(*command: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    if shutil.which(command[0]) is None:
        pytest.fail(f"{command[0]} is missing: install poppler-utils (make sysdeps-test)")
    return subprocess.run(command, capture_output=True, text=True, check=check, timeout=60)


def pdf_file(tmp_path: Path, content: bytes, name: str = "record.pdf") -> str:
    path = tmp_path / name
    path.write_bytes(content)
    return str(path)


def page_count(path: str) -> int:
    pages = re.search(r"^Pages:\s+(\d+)$", run_tool("pdfinfo", path).stdout, re.MULTILINE)
    assert pages is not None
    return int(pages[1])


def pyhanko_status(
    content: bytes, certificate: Path
) -> tuple[EmbeddedPdfSignature, PdfSignatureStatus]:
    trusted = load_cert_from_pemder(str(certificate))
    reader = PdfFileReader(io.BytesIO(content), strict=False)
    (embedded,) = reader.embedded_signatures
    context = ValidationContext(trust_roots=[trusted], allow_fetching=False)
    # pyHanko validates in an event loop of its own (asyncio.run).
    return embedded, archive_pdf.outside_any_event_loop(
        lambda: validate_pdf_signature(embedded, context)
    )


@pytest.fixture(scope="module")
def clock() -> Iterator[None]:
    """Certificates are made, used and checked on a fixed day, whatever the machine's date."""
    with time_machine.travel(CLOCK, tick=True):
        yield


@pytest.fixture(scope="module")
def signing_dir(clock: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    folder = tmp_path_factory.mktemp("pdf-signing")
    with override_settings(
        MIANTAN_PDF_CERTIFICATE="",
        MIANTAN_PDF_PRIVATE_KEY="",
        MIANTAN_PDF_CERTIFICATE_DIR=str(folder),
    ):
        yield folder


@pytest.fixture(scope="module")
def signed_zh(signing_dir: Path) -> bytes:
    return archive_pdf.export_pdf(talk_document())


@pytest.fixture(scope="module")
def signed_en(signing_dir: Path) -> bytes:
    return archive_pdf.export_pdf(talk_document("en"))


def test_export_pdf_signature_is_valid_for_pdfsig(signed_zh: bytes, tmp_path: Path) -> None:
    report = run_tool("pdfsig", pdf_file(tmp_path, signed_zh)).stdout

    assert "Signature #1:" in report
    assert "Signature #2:" not in report
    assert "Signature Validation: Signature is Valid." in report
    assert "Total document signed" in report
    assert "Signer Certificate Common Name: Miantan demo document signing" in report
    assert "Signature Type: ETSI.CAdES.detached" in report


def test_export_pdf_signature_is_intact_for_pyhanko(signed_zh: bytes, signing_dir: Path) -> None:
    embedded, status = pyhanko_status(signed_zh, signing_dir / archive_pdf.CERTIFICATE_FILE)

    assert status.intact
    assert status.valid
    assert status.trusted
    assert status.coverage == SignatureCoverageLevel.ENTIRE_FILE
    assert embedded.sig_object["/SubFilter"] == "/ETSI.CAdES.detached"
    assert "4711" in embedded.sig_object["/Reason"]
    assert SNAPSHOT in embedded.sig_object["/Reason"]
    assert embedded.sig_object["/Location"] == "仁心医院"


def changed_content_stream(content: bytes) -> bytes:
    signed_until = int(re.search(rb"/ByteRange\s*\[\s*0\s+(\d+)", content)[1])  # type: ignore[index]
    start = content.index(b"stream\n", content.index(b"/Filter /FlateDecode")) + len(b"stream\n")
    assert start + 40 < signed_until
    position = start + 20
    return content[:position] + bytes([content[position] ^ 0x01]) + content[position + 1 :]


def changed_page_size(content: bytes) -> bytes:
    box = re.search(rb"/MediaBox\s*\[\s*0 0 (\d)", content)
    assert box is not None
    digit = box.start(1)
    replacement = b"4" if content[digit : digit + 1] != b"4" else b"3"
    return content[:digit] + replacement + content[digit + 1 :]


@pytest.mark.parametrize("change", [changed_content_stream, changed_page_size])
def test_changed_byte_is_reported_by_pdfsig_and_pyhanko(
    signed_zh: bytes, signing_dir: Path, tmp_path: Path, change: object
) -> None:
    tampered = change(signed_zh)  # type: ignore[operator]
    assert len(tampered) == len(signed_zh)
    assert sum(a != b for a, b in zip(tampered, signed_zh, strict=True)) == 1

    report = run_tool("pdfsig", pdf_file(tmp_path, tampered), check=False).stdout
    assert "Signature Validation: Digest Mismatch." in report
    assert "Signature is Valid" not in report

    _, status = pyhanko_status(tampered, signing_dir / archive_pdf.CERTIFICATE_FILE)
    assert not status.intact
    assert not status.bottom_line


def test_pdf_fonts_are_noto_cjk_and_embedded(signed_zh: bytes, tmp_path: Path) -> None:
    listing = run_tool("pdffonts", pdf_file(tmp_path, signed_zh)).stdout.splitlines()[2:]
    fonts = [line.split() for line in listing if line.strip()]

    assert any("Noto-Sans-CJK-SC" in font[0] for font in fonts), listing
    # Columns from the right: object id, generation, uni, sub, emb.
    assert all(font[-5] == "yes" for font in fonts), listing


def test_pdf_text_holds_the_record(signed_zh: bytes, tmp_path: Path) -> None:
    path = pdf_file(tmp_path, signed_zh)
    text = run_tool("pdftotext", "-enc", "UTF-8", path, "-").stdout
    # Long hexadecimal values wrap inside their cells: read them as laid out, line after line.
    layout = run_tool("pdftotext", "-layout", "-enc", "UTF-8", path, "-").stdout
    unwrapped = "".join(layout.split())

    for expected in (
        "仁心医院",
        "王芳",
        "周敏",
        "N-0042",
        "心内科护理组",
        "自我评价",
        "改进计划",
        "病人满意度 96%",
        "我不同意第三项",
        "第三项的结论与排班记录不符。",
        "2026-11-05 02:30:15 UTC",
        "2026-11-05 02:42:15 UTC",
        "2026-11-05 09:30 (Asia/Shanghai)",
        "ed25519-2026-01",
        "203.0.113.24",
        "manage.py verify_archive --file export.json",
        "面谈记录",
        "工号",
    ):
        assert expected in text, expected
    for value in (SNAPSHOT, PUBLIC_KEY, SEAL, "ab" * 64, "cd" * 64):
        assert value in unwrapped, value


def test_english_document_has_english_labels(
    signed_en: bytes, signed_zh: bytes, tmp_path: Path
) -> None:
    english = run_tool("pdftotext", "-enc", "UTF-8", pdf_file(tmp_path, signed_en), "-").stdout
    chinese = run_tool("pdftotext", "-enc", "UTF-8", pdf_file(tmp_path, signed_zh, "zh.pdf"), "-")

    for label in ("Talk record", "Department", "Manager", "Signatures", "Verification", "Appeals"):
        assert label in english, label
    assert "面谈记录" not in english
    assert "工号" not in english
    assert "Department" not in chinese.stdout
    assert "部门" in chinese.stdout
    # The record's own content stays as it was written.
    assert "王芳" in english


def test_pages_are_a4_and_numbered(signed_en: bytes, tmp_path: Path) -> None:
    path = pdf_file(tmp_path, signed_en)
    info = run_tool("pdfinfo", path).stdout
    pages = page_count(path)
    text = run_tool("pdftotext", "-enc", "UTF-8", path, "-").stdout

    assert re.search(r"^Page size:\s+595\.2\d* x 841\.8\d* pts \(A4\)", info, re.MULTILINE)
    assert pages >= 2
    for page in range(1, pages + 1):
        assert f"Page {page} / {pages}" in text


def test_page_footer_follows_the_translated_word_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    translated = {"Page %(page)s / %(pages)s": '第 %(page)s 页，共 %(pages)s 页 "\\'}
    monkeypatch.setattr(archive_pdf, "gettext", lambda text: translated.get(text, text))

    path = pdf_file(tmp_path, archive_pdf.render_pdf(talk_document()))
    pages = page_count(path)
    text = run_tool("pdftotext", "-enc", "UTF-8", path, "-").stdout

    for page in range(1, pages + 1):
        assert f'第 {page} 页，共 {pages} 页 "\\' in text


def test_handwritten_signature_is_embedded(signed_zh: bytes, tmp_path: Path) -> None:
    listing = run_tool("pdfimages", "-list", pdf_file(tmp_path, signed_zh)).stdout.splitlines()
    images = [line.split() for line in listing[2:] if line.strip()]

    width, height = HANDWRITING_SIZE
    assert [(int(image[3]), int(image[4])) for image in images] == [(width, height)]


def test_long_text_wraps_inside_the_page(tmp_path: Path) -> None:
    unbroken = "https://intranet.example/" + "x" * 400
    chinese = "夜班交接" * 150
    section = DocumentSection(
        title="补充说明",
        filled_by="员工",
        lines=(DocumentLine("链接", unbroken), DocumentLine("说明", chinese)),
    )
    document = talk_document(sections=(section,), topic="很长的主题" * 30)

    path = pdf_file(tmp_path, archive_pdf.render_pdf(document))
    boxes = run_tool("pdftotext", "-bbox", path, "-").stdout
    right_edges = [float(x) for x in re.findall(r'xMax="([\d.]+)"', boxes)]

    assert right_edges
    assert max(right_edges) <= TEXT_RIGHT_EDGE + 1
    text = run_tool("pdftotext", "-enc", "UTF-8", path, "-").stdout
    assert "".join(text.split()).count("x" * 400) == 1


def test_demo_certificate_is_made_once(signing_dir: Path) -> None:
    first = archive_pdf.ensure_certificate()
    again = archive_pdf.ensure_certificate()

    assert (
        first
        == again
        == (
            signing_dir / archive_pdf.CERTIFICATE_FILE,
            signing_dir / archive_pdf.PRIVATE_KEY_FILE,
        )
    )
    certificate = x509.load_pem_x509_certificate(first[0].read_bytes())
    usage = certificate.extensions.get_extension_for_class(x509.KeyUsage).value
    assert certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == (
        "Miantan demo document signing"
    )
    assert usage.digital_signature and usage.content_commitment
    assert not usage.key_cert_sign
    lifetime = certificate.not_valid_after_utc - certificate.not_valid_before_utc
    assert timedelta(days=3650) <= lifetime <= timedelta(days=3660)
    assert stat.S_IMODE(first[1].stat().st_mode) == 0o600


def test_make_pdf_certificate_command_renews_with_force(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with override_settings(MIANTAN_PDF_CERTIFICATE_DIR=str(tmp_path)):
        call_command("make_pdf_certificate")
        first = capsys.readouterr().out
        call_command("make_pdf_certificate")
        unchanged = capsys.readouterr().out
        call_command("make_pdf_certificate", "--force")
        renewed = capsys.readouterr().out

    certificate = tmp_path / archive_pdf.CERTIFICATE_FILE
    fingerprint = archive_pdf.certificate_fingerprint(certificate)
    assert str(certificate) in renewed
    assert str(tmp_path / archive_pdf.PRIVATE_KEY_FILE) in renewed
    assert fingerprint in renewed
    assert re.fullmatch(r"([0-9A-F]{2}:){31}[0-9A-F]{2}", fingerprint)
    assert first == unchanged
    assert fingerprint not in first


def test_configured_certificate_signs(clock: None, tmp_path: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "仁心医院 文档签名")])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(CLOCK - timedelta(days=1))
        .not_valid_after(CLOCK + timedelta(days=365))
        .sign(key, hashes.SHA256())
    )
    certificate_path = tmp_path / "hospital.pem"
    key_path = tmp_path / "hospital-key.pem"
    certificate_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"correct horse"),
        )
    )
    unsigned = archive_pdf.render_pdf(talk_document("en"))

    with override_settings(
        MIANTAN_PDF_CERTIFICATE=str(certificate_path),
        MIANTAN_PDF_PRIVATE_KEY=str(key_path),
        MIANTAN_PDF_PRIVATE_KEY_PASSWORD="correct horse",
    ):
        signed = archive_pdf.sign_pdf(unsigned, reason="archive")

    embedded, status = pyhanko_status(signed, certificate_path)
    assert status.intact and status.valid and status.trusted
    assert status.coverage == SignatureCoverageLevel.ENTIRE_FILE
    assert embedded.signer_cert.subject.native["common_name"] == "仁心医院 文档签名"
    report = run_tool("pdfsig", pdf_file(tmp_path, signed)).stdout
    assert "Signature Validation: Signature is Valid." in report


def test_half_configured_certificate_is_refused(tmp_path: Path) -> None:
    with (
        override_settings(MIANTAN_PDF_CERTIFICATE=str(tmp_path / "c.pem")),
        pytest.raises(ImproperlyConfigured, match="MIANTAN_PDF_PRIVATE_KEY"),
    ):
        archive_pdf.sign_pdf(b"%PDF-1.7", reason="archive")
