from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class EmploymentStatus(models.TextChoices):
    ACTIVE = "active", pgettext_lazy("employment status", "active")
    LEFT = "left", pgettext_lazy("employment status", "left")


class Role(models.TextChoices):
    """Roles held through the role table. "Employee" and "manager" follow from the org itself:
    everyone is an employee, and whoever has reports is their manager."""

    DEPARTMENT_HEAD = "department_head", _("department head")
    HR = "hr", _("HR partner")
    EXECUTIVE = "executive", _("executive")
    ADMIN = "admin", _("administrator")


# Roles whose scope is a department subtree; the others apply to the whole organisation.
SCOPED_ROLES = frozenset({Role.DEPARTMENT_HEAD, Role.HR})


class Language(models.TextChoices):
    ZH_HANS = "zh-hans", "简体中文"
    EN = "en", "English"


class ImportStatus(models.TextChoices):
    PENDING = "pending", pgettext_lazy("import status", "waiting")
    RUNNING = "running", pgettext_lazy("import status", "checking")
    REJECTED = "rejected", pgettext_lazy("import status", "rejected")
    DONE = "done", pgettext_lazy("import status", "imported")
    FAILED = "failed", pgettext_lazy("import status", "failed")
    # Checked and good, but it creates departments placed by the reporting line: HR confirms.
    CHECKED = "checked", pgettext_lazy("import status", "awaiting confirmation")
    DISCARDED = "discarded", pgettext_lazy("import status", "discarded")
