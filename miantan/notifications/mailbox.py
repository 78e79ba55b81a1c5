"""A mailbox on disk for an installation without a mail server (`make run`).

Each mail is written whole to its own file, `EMAIL_FILE_PATH/<UTC time>-<id>.eml`, which any
mail program opens (invitations included as attachments). The log gets one line per mail with
the number of recipients and the file name: no address, subject or text, since those carry
personal data and the file is at hand.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage
from django.core.mail.backends.base import BaseEmailBackend
from django.utils import timezone

logger = logging.getLogger(__name__)


class MailboxBackend(BaseEmailBackend):
    """Django mail backend: one .eml file per mail under EMAIL_FILE_PATH."""

    def __init__(
        self, *, file_path: str | Path | None = None, fail_silently: bool = False, **kwargs: Any
    ) -> None:
        super().__init__(fail_silently=fail_silently, **kwargs)
        self.directory = Path(file_path or settings.EMAIL_FILE_PATH)

    def send_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        sent = 0
        for message in email_messages:
            if not message.recipients():
                continue
            try:
                path = self._write(message)
            except OSError:
                if not self.fail_silently:
                    raise
                continue
            recipients = len(message.recipients())
            logger.info(
                "mail to %s recipient%s saved as %s",
                recipients,
                "" if recipients == 1 else "s",
                path,
            )
            sent += 1
        return sent

    def _write(self, message: EmailMessage) -> Path:
        self.directory.mkdir(parents=True, exist_ok=True)
        name = f"{timezone.now():%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:12]}.eml"
        path = self.directory / name
        # Written under a hidden name and renamed, so a reader never sees half a mail.
        partial = self.directory / f".{name}.part"
        partial.write_bytes(message.message().as_bytes(linesep="\n"))
        partial.replace(path)
        return path
