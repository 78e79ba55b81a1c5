import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from miantan.archive.demo import seed_signed
from miantan.interviews.demo import fill_talks
from miantan.metrics.demo import fill_generated, seed_metrics
from miantan.people.demo import DEMO_PASSWORD, seed_demo
from miantan.people.demo_bulk import MAX_EMPLOYEES, grow_to
from miantan.people.models import Department, Employee, Organisation
from miantan.plans.demo import seed_plans
from miantan.records.demo import seed_records
from miantan.records.scripts import install_builtin_scripts
from miantan.records.templates import install_builtin_templates
from miantan.scheduling.demo import seed_scheduling


class Command(BaseCommand):
    help = (
        "Load the demo organisations, the same every time: 仁和医院 (Renhe Hospital) and 华星智造 "
        "(Huaxing Manufacturing), with a login for every role (list them with `demo_logins`). "
        "They are created through the people services, so every row is audited. "
        "--employees N adds generated staff to the hospital until there are about N employees in "
        "all, for benchmarks; that bulk data is written directly and is NOT audited."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--employees",
            type=int,
            default=0,
            metavar="N",
            help=f"grow the hospital to about N employees in all (at most {MAX_EMPLOYEES:,})",
        )
        parser.add_argument(
            "--kpi-months",
            type=int,
            default=12,
            metavar="M",
            help="months of KPI values for the generated staff (default 12; 40 gives about "
            "10,000,000 values at 100,000 employees)",
        )
        parser.add_argument(
            "--talks-per-employee",
            type=int,
            default=0,
            metavar="T",
            help="talks between every hospital employee and their manager, for benchmarks "
            "(10 gives about 1,000,000 at 100,000 employees); bulk data, NOT audited",
        )
        parser.add_argument(
            "--if-empty",
            action="store_true",
            help="do nothing when any organisation exists (what `make run` uses)",
        )
        parser.add_argument(
            "--password",
            default=DEMO_PASSWORD,
            help=f'password of every demo login (default "{DEMO_PASSWORD}")',
        )

    def handle(self, *args: Any, **options: Any) -> None:
        employees = options["employees"]
        if not 0 <= employees <= MAX_EMPLOYEES:
            raise CommandError(f"--employees must be between 0 and {MAX_EMPLOYEES:,}.")
        if Organisation.objects.exists():
            if options["if_empty"]:
                if options["verbosity"] > 1:
                    self.stdout.write("Organisations exist already; no demo data loaded.")
                return
            raise CommandError("The database already holds organisations; seed_demo needs none.")
        started = time.perf_counter()
        with transaction.atomic():
            hospital, factory = seed_demo(password=options["password"])
            for organisation in (hospital, factory):
                install_builtin_templates(organisation)
                install_builtin_scripts(organisation)
            seed_records(hospital)
            seed_signed(hospital, password=options["password"])
        for organisation in (hospital, factory):
            seed_metrics(organisation)
            seed_scheduling(organisation)
        with transaction.atomic():
            seed_plans(hospital, password=options["password"])
        last_demo_id = Employee.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
        generated = grow_to(hospital, employees) if employees else 0
        values = fill_generated(hospital, after_id=last_demo_id, months=options["kpi_months"])
        talks = fill_talks(hospital, per_employee=options["talks_per_employee"])
        seconds = time.perf_counter() - started
        if options["verbosity"] == 0:
            return
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo data loaded: {Employee.objects.count():,} employees "
                f"({generated:,} generated, not audited) in {Department.objects.count():,} "
                f"departments, {values:,} KPI values for generated staff, "
                f"{talks:,} generated talks, {seconds:.1f} s. "
                "`manage.py demo_logins` lists the logins."
            )
        )
