"""Mutation testing (`make mutation`): do the tests notice small deliberate bugs?

For each group of modules (rules, audit, scope, slots) every mutant (bench/mutants.py) is
switched on in turn while the group's tests run; a mutant is killed when a test fails or runs
out of time, and survives otherwise. The score is killed / (mutants − equivalent mutants).

One pytest process per group does the work: it runs every test once with no mutant on,
recording which mutation points each test reaches and how long it takes, then for each mutant
runs only the tests that reach it, fastest first, stopping at the first failure. Mutants in
module-level values are switched on by rebinding the name; mutants evaluated only at import
(default arguments, class attributes) get a fresh process each. The test database is built
once per process. Scores go to bench/results.json as `mutation.<group>.score`; the surviving
mutants are listed on the terminal and in var/mutation/<group>.txt.

    .venv/bin/python bench/mutation.py                   # every group
    .venv/bin/python bench/mutation.py --groups audit    # one group
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import mutants
from benchlib import RESULTS, ROOT, merge_results

GROUPS: dict[str, dict[str, list[str]]] = {
    "rules": {
        "modules": ["miantan.people.rules", "miantan.interviews.rules"],
        "tests": [
            "tests/people/test_visibility.py",
            "tests/people/test_role_grants.py",
            "tests/people/test_rules_*.py",
            "tests/interviews/test_*rules*.py",
            "tests/interviews/test_talk_services.py",
            "tests/web/test_talks_pages.py",
            "tests/api/test_api_talks.py",
        ],
    },
    "audit": {
        "modules": [
            "miantan.core.chain",
            "miantan.audit.hashing",
            "miantan.audit.verification",
            "miantan.audit.services",
        ],
        "tests": ["tests/core/test_chain.py", "tests/audit/test_*.py"],
    },
    "scope": {
        "modules": ["miantan.people.scopes"],
        "tests": [
            "tests/people/test_visibility.py",
            "tests/people/test_people_queries.py",
            "tests/people/test_rules_*.py",
        ],
    },
    "slots": {
        "modules": ["miantan.scheduling.slots"],
        "tests": ["tests/scheduling/test_slots.py", "tests/scheduling/test_slot_edges.py"],
    },
}

# Surviving mutants that cannot change behaviour, by module, the source line's text and the
# mutation, each with the reason; the score leaves them out. Every other survivor is a test
# still to write.
EQUIVALENT: list[tuple[str, str, str, str]] = [
    (
        "miantan.audit.services",
        "bulk_create(self.events, batch_size=1000)",
        "1000 → 1001",
        "the batch size changes how many INSERT statements carry the events, not the rows",
    ),
    (
        "miantan.audit.services",
        'contextvars.ContextVar("audit_batch"',
        "'audit_batch' → 'XXaudit_batchXX'",
        "a context variable's name only shows in its repr",
    ),
    (
        "miantan.audit.services",
        "head.seq // every > before // every",
        "// → /",
        "for whole numbers h > b >= 0, h // e > b / e exactly when h // e > b // e (the other"
        " // changed is killed)",
    ),
    (
        "miantan.people.scopes",
        '_CACHE_ATTR = "_miantan_scope"',
        "'_miantan_scope' → 'XX_miantan_scopeXX'",
        "the name of the attribute the scope is cached under is read and written only here",
    ),
    (
        "miantan.scheduling.slots",
        "if not participants or limit <= 0:",
        "<= → <",
        "with a limit of 0 the candidate loop takes no start of any piece, so nothing is found",
    ),
    (
        "miantan.scheduling.slots",
        "if bounds[1] - bounds[0] < length:",
        "- → +",
        "a window shorter than the talk has no start at or before its end minus the length,"
        " so the search finds nothing without this shortcut too",
    ),
    (
        "miantan.scheduling.slots",
        "if rest > 0:",
        "> → >=",
        "a rest of zero seconds removes only empty intervals",
    ),
    (
        "miantan.scheduling.slots",
        "if buffer > 0:",
        "> → >=",
        "a buffer of zero seconds removes only the talks themselves, which are busy already",
    ),
    (
        "miantan.scheduling.slots",
        "taken += 1",
        "+= → -=",
        "scores every grid start of a piece instead of its first few: the same best slots,"
        " found more slowly (bench/slot_search.py measures the speed)",
    ),
    (
        "miantan.audit.verification",
        'last = AuditEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0',
        "0 → 1",
        "with no event at the snapshot no head was read either, so an event numbered 1 seen"
        " later belongs to a chain begun during the walk, which is skipped as it is without it",
    ),
    (
        "miantan.audit.verification",
        "batch_size: int = 5000",
        "5000 → 5001",
        "the chunk size of the database cursor changes how rows are fetched, not which",
    ),
    (
        "miantan.people.scopes",
        "if not roots or self.employee is None:",
        "or → and",
        "without roots nothing is within them, so the department query finds no id either"
        " (an employee's organisation always has a department: their own)",
    ),
    (
        "miantan.people.scopes",
        "elif role == Role.HR and path:",
        "and → or",
        "the role_assignment_scope_matches_role constraint gives every HR role a department"
        " and no executive or admin role one, so `path` is set exactly for the scoped roles",
    ),
    (
        "miantan.core.chain",
        "beyond = [seq for seq in self.by_seq if seq > last]",
        "> → >=",
        "the walk takes the checkpoints of the last link out of by_seq, so no key equals"
        " `last` unless the chain is empty and a checkpoint of #0 exists, which is never written",
    ),
]

OUT = ROOT / "var" / "mutation"
# The test database is built once by the first process and reused by the next ones.
PYTEST_ARGS = ["-q", "-p", "no:cacheprovider", "-W", "ignore", "--ds", "mutation_settings"]


@dataclass
class Outcome:
    id: int
    module: str
    line: int
    description: str
    source_line: str
    where: str
    # reached (by some test), unreached, rebound (a module-level value), default (a default
    # argument or attribute, patched) or import (only in a fresh process)
    kind: str
    status: str = "survived"  # killed | survived | equivalent
    killer: str = ""
    reason: str = ""


# --- the worker: one pytest process -------------------------------------------------------


class MutantTimeout(BaseException):
    """Raised by the alarm in a test that runs too long under a mutant (an endless loop)."""


def _alarm(signum: int, frame: Any) -> None:
    raise MutantTimeout("the test ran out of time under this mutant")


class _Profile:
    def pytest_configure(self, config: Any) -> None:
        from hypothesis import settings

        # Same examples in every run, and no example database written into the tree.
        settings.register_profile("mutation", database=None, derandomize=True)
        settings.load_profile("mutation")


class _Plugin(_Profile):
    def __init__(self, group: str, board: Any, compiled: dict[str, Any], result: Path) -> None:
        self.group, self.board, self.compiled, self.result = group, board, compiled, result

    def pytest_runtestloop(self, session: Any) -> bool:
        from _pytest.runner import call_and_report

        items = list(session.items)
        for module in GROUPS[self.group]["modules"]:
            importlib.import_module(module)
        signal.signal(signal.SIGALRM, _alarm)

        def run(item: Any, limit: float) -> tuple[bool, float]:
            """Set up and call one test; (failed, seconds). Teardown is left to `finish`."""
            if hasattr(item, "_request") and not item._request:
                item._initrequest()
            started = time.perf_counter()
            signal.setitimer(signal.ITIMER_REAL, limit)
            try:
                report = call_and_report(item, "setup", log=False)
                failed = not report.passed
                if report.passed:
                    failed = call_and_report(item, "call", log=False).failed
            except MutantTimeout:
                failed = True
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
            return failed, time.perf_counter() - started

        def finish(item: Any, nextitem: Any) -> bool:
            report = call_and_report(item, "teardown", log=False, nextitem=nextitem)
            item._request = False
            item.funcargs = None
            return bool(report.failed)

        # The baseline: every test passes with no mutant on; which points does each reach?
        reached: dict[Any, set[int]] = {}
        seconds: dict[Any, float] = {}
        broken = []
        for index, item in enumerate(items):
            self.board.reached = set()
            failed, took = run(item, 600)
            # The last test is torn down once the first test of the mutants is known.
            if index + 1 < len(items):
                failed |= finish(item, items[index + 1])
            reached[item], seconds[item] = set(self.board.reached), took
            if failed:
                broken.append(item.nodeid)
        # A test that fails without a mutant can kill none: it is left out and named.
        working = [item for item in items if item.nodeid not in broken]
        fastest_first = sorted(working, key=lambda item: seconds[item])
        outcomes = self._outcomes({item: reached[item] for item in working})
        plan = []
        for outcome in outcomes:
            if outcome.kind == "reached":
                plan.append(
                    (outcome, [item for item in fastest_first if outcome.id in reached[item]])
                )
            elif outcome.kind in ("rebound", "default"):
                plan.append((outcome, fastest_first))
        if items:
            finish(items[-1], plan[0][1][0] if plan else None)
        for number, (outcome, tests) in enumerate(plan):
            following = plan[number + 1][1][0] if number + 1 < len(plan) else None
            try:
                changes = self._switch_on(outcome)
            except mutants.CannotSwitch:
                outcome.kind = "import"  # left to a process of its own
                changes = None
            except Exception as error:
                # A value that cannot even be evaluated would break the import: caught.
                outcome.status, outcome.killer = "killed", f"import: {error!r}"
                changes = None
            if changes is None:
                # The previous teardown expected this mutant's first test; expect the next.
                session._setupstate.teardown_exact(following)
                continue
            self.board.active = outcome.id
            try:
                for position, item in enumerate(tests):
                    failed, _took = run(item, 10 * seconds[item] + 2)
                    last = failed or position + 1 == len(tests)
                    finish(item, following if last else tests[position + 1])
                    if failed:
                        outcome.status, outcome.killer = "killed", item.nodeid
                        break
            finally:
                self.board.active = None
                mutants.undo(changes)
        self._write(
            {
                "outcomes": [asdict(outcome) for outcome in outcomes],
                "order": [item.nodeid for item in fastest_first],
                "tests": len(working),
                "broken": broken,
            }
        )
        return True

    def _outcomes(self, reached: dict[Any, set[int]]) -> list[Outcome]:
        by_tests = set().union(*reached.values()) if reached else set()
        outcomes = []
        for compiled in self.compiled.values():
            for mutant in compiled.mutants:
                if mutant.id in compiled.rebindable:
                    kind = "rebound"
                elif mutant.where.split(":")[0] in ("default", "kwdefault", "classdefault"):
                    kind = "default"
                elif mutant.where == "import":
                    kind = "import"
                elif mutant.id in by_tests:
                    kind = "reached"
                else:
                    kind = "unreached"
                outcomes.append(Outcome(**asdict(mutant), kind=kind))
        return outcomes

    def _switch_on(self, outcome: Outcome) -> mutants.Undo:
        """Put a mutant evaluated at import in place (the others only need the switch)."""
        compiled = self.compiled[outcome.module]
        module = sys.modules[outcome.module]
        mutant = next(item for item in compiled.mutants if item.id == outcome.id)
        if outcome.kind == "rebound":
            return mutants.rebind(compiled, module, mutant, self.board)
        if outcome.kind == "default":
            return mutants.patch_default(compiled, module, mutant, self.board)
        return []

    def _write(self, data: dict[str, Any]) -> None:
        self.result.write_text(json.dumps(data, ensure_ascii=False))


def _test_files(group: str) -> list[str]:
    files: list[str] = []
    for pattern in GROUPS[group]["tests"]:
        files += sorted(str(path.relative_to(ROOT)) for path in ROOT.glob(pattern))
    return files


def worker(group: str, result: Path, static: int | None) -> int:
    os.chdir(ROOT)
    sys.path.insert(0, str(ROOT))
    board = mutants.Switchboard()
    board.active = static
    compiled = mutants.install(GROUPS[group]["modules"], board)
    import pytest

    if static is not None:
        # One mutant evaluated at import: every test, fastest first, until one fails.
        order = json.loads(result.read_text())["order"]
        return int(pytest.main([*order, *PYTEST_ARGS, "--reuse-db", "-x"], plugins=[_Profile()]))
    plugin = _Plugin(group, board, compiled, result)
    arguments = [*_test_files(group), *PYTEST_ARGS, "--reuse-db", "--create-db"]
    return int(pytest.main(arguments, plugins=[plugin]))


# --- the runner -------------------------------------------------------------------------------


def _equivalent(outcome: Outcome) -> str:
    for module, text, description, reason in EQUIVALENT:
        if (
            outcome.module == module
            and text in outcome.source_line
            and outcome.description == description
        ):
            return reason
    return ""


def run_group(group: str, timeout: int) -> dict[str, Any]:
    OUT.mkdir(parents=True, exist_ok=True)
    result = OUT / f"{group}.json"
    result.unlink(missing_ok=True)
    started = time.monotonic()
    command = [sys.executable, __file__, "--worker", group, "--result", str(result)]
    subprocess.run(command, cwd=ROOT, timeout=timeout, check=False, preexec_fn=_nice)  # noqa: S603
    if not result.exists():
        raise SystemExit(f"{group}: the test run did not finish; run its tests to see why")
    data = json.loads(result.read_text())
    if "error" in data:
        raise SystemExit(f"{group}: {data['error']}")
    for nodeid in data["broken"]:
        print(f"{group}: left out, fails without a mutant: {nodeid}")
    outcomes = [Outcome(**item) for item in data["outcomes"]]
    for outcome in outcomes:
        if outcome.kind == "import":
            outcome.status = _run_static(group, outcome, result, timeout)
    for outcome in outcomes:
        reason = _equivalent(outcome) if outcome.status == "survived" else ""
        if reason:
            outcome.status, outcome.reason = "equivalent", reason
    counted = [outcome for outcome in outcomes if outcome.status != "equivalent"]
    killed = [outcome for outcome in counted if outcome.status in ("killed", "timeout")]
    survivors = [outcome for outcome in counted if outcome.status == "survived"]
    report = OUT / f"{group}.txt"
    report.write_text(
        "".join(
            f"{outcome.status:10} {outcome.kind:9} {outcome.module}:{outcome.line}"
            f" {outcome.description}    | {outcome.source_line.strip()}"
            + (f"    ({outcome.reason})" if outcome.reason else "")
            + "\n"
            for outcome in outcomes
            if outcome.status != "killed"
        )
    )
    return {
        "group": group,
        "mutants": len(outcomes),
        "equivalent": len(outcomes) - len(counted),
        "killed": len(killed),
        "survivors": survivors,
        "score": round(len(killed) / len(counted), 3) if counted else 1.0,
        "seconds": round(time.monotonic() - started),
        "tests": data["tests"],
    }


def _run_static(group: str, outcome: Outcome, result: Path, timeout: int) -> str:
    command = [sys.executable, __file__, "--worker", group, "--result", str(result)]
    command += ["--static", str(outcome.id)]
    try:
        finished = subprocess.run(  # noqa: S603
            command,
            cwd=ROOT,
            timeout=timeout,
            check=False,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=_nice,
        )
    except subprocess.TimeoutExpired:
        return "timeout"
    return "survived" if finished.returncode == 0 else "killed"


def _nice() -> None:
    os.nice(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--groups", default=",".join(GROUPS), help=",".join(GROUPS))
    parser.add_argument("--timeout", type=int, default=3600, help="seconds for one test process")
    parser.add_argument("--output", default=str(RESULTS), help="where to write the scores")
    parser.add_argument("--no-write", action="store_true", help="print, do not write scores")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    parser.add_argument("--static", type=int, help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.worker:
        result = Path(options.result) if options.result else OUT / "static.json"
        raise SystemExit(worker(options.worker, result, options.static))
    groups = [group.strip() for group in options.groups.split(",") if group.strip()]
    unknown = set(groups) - set(GROUPS)
    if unknown:
        raise SystemExit(f"unknown group(s): {', '.join(sorted(unknown))}")
    entries = []
    for group in groups:
        summary = run_group(group, options.timeout)
        print(
            f"{group:6} score {summary['score']:.3f}: {summary['killed']} of"
            f" {summary['mutants'] - summary['equivalent']} mutants killed"
            f" ({summary['equivalent']} equivalent left out), {summary['tests']} tests,"
            f" {summary['seconds']} s"
        )
        for outcome in summary["survivors"]:
            print(
                f"    survived ({outcome.kind}) {outcome.module}:{outcome.line}"
                f" {outcome.description}    | {outcome.source_line.strip()}"
            )
        entries.append(
            {
                "name": f"mutation.{group}.score",
                "value": summary["score"],
                "unit": "killed/mutants",
                "dataset": (
                    f"mutants={summary['mutants']},equivalent={summary['equivalent']},"
                    f"killed={summary['killed']},tests={summary['tests']}"
                ),
                "database": "sqlite",
            }
        )
    if not options.no_write:
        for entry in entries:
            merge_results([entry], Path(options.output), prefix=entry["name"])


if __name__ == "__main__":
    main()
