import unicodedata
from typing import Any

from django.contrib.auth.hashers import check_password
from django.core.management.base import BaseCommand

from miantan.people.demo import DEMO_PASSWORD, demo_logins
from miantan.people.models import Employee


class Command(BaseCommand):
    help = "Print the demo logins (username, password, role, organisation, name)."

    def handle(self, *args: Any, **options: Any) -> None:
        logins = {login.person.username: login for login in demo_logins()}
        found = {
            e.user.username: e
            for e in Employee.objects.filter(
                user__username__in=logins, user__is_active=True
            ).select_related("user", "organisation")
        }
        if not found:
            self.stdout.write("No demo logins in this database (see `manage.py seed_demo`).")
            return
        first = found[next(u for u in logins if u in found)]
        # Only one check: argon2 is slow on purpose, and all demo logins share one password.
        password = (
            DEMO_PASSWORD
            if check_password(DEMO_PASSWORD, first.user.password)
            else "(as given to seed_demo --password)"
        )
        rows = [("username", "password", "role", "organisation", "name")]
        for username, login in logins.items():
            if username in found:
                employee = found[username]
                label = login.person.login_label
                rows.append((username, password, label, employee.organisation.name, employee.name))
        widths = [max(_width(row[col]) for row in rows) for col in range(len(rows[0]))]
        self.stdout.write("Demo logins:")
        for n, row in enumerate(rows):
            self.stdout.write(
                "  "
                + "  ".join(_pad(cell, w) for cell, w in zip(row, widths, strict=True)).rstrip()
            )
            if n == 0:
                self.stdout.write("  " + "  ".join("-" * w for w in widths))


def _width(text: str) -> int:
    """Columns the text takes in a terminal: Chinese characters take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, width: int) -> str:
    return text + " " * (width - _width(text))
