"""`manage.py load_kpi_pack ORG_SLUG PACK`: add an industry KPI pack to an organisation."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from miantan.core.errors import DomainError
from miantan.metrics.packs import PACKS, load_pack
from miantan.people.models import Organisation


class Command(BaseCommand):
    help = "Load an industry KPI pack into an organisation; loading it again changes nothing."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("organisation", help="short name (slug) of the organisation")
        parser.add_argument("pack", help=f"one of: {', '.join(PACKS)}")

    def handle(self, *args: Any, **options: Any) -> None:
        organisation = Organisation.objects.filter(slug=options["organisation"]).first()
        if organisation is None:
            raise CommandError(f"no organisation with the short name {options['organisation']!r}")
        try:
            kpis = load_pack(organisation, options["pack"], actor=None)
        except DomainError as error:
            raise CommandError(str(error.message)) from error
        for kpi in kpis:
            self.stdout.write(f"{kpi.code}\t{kpi.name}\t{kpi.name_en}\t{kpi.unit}")
        message = _("%(count)s KPIs are in the catalogue.") % {"count": len(kpis)}
        self.stdout.write(self.style.SUCCESS(message))
