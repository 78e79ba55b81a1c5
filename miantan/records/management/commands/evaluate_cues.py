import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from miantan.records.cues.evaluation import EvaluationFileError, Report, evaluate, read_examples
from miantan.records.cues.lexicon import LABELS


class Command(BaseCommand):
    help = (
        "Measure the emotion cues against a labelled file (one JSON object a line: id, lang,"
        " text, labels): per language, precision and recall of “a cue is shown” against"
        " “labels other than none”, and a table per label."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", metavar="FILE", help="the labelled sentences (JSON lines)")
        parser.add_argument(
            "--json",
            action="store_true",
            help='print only {"zh": {"precision", "recall", "n"}, "en": {…}}',
        )
        parser.add_argument(
            "--mistakes",
            action="store_true",
            help="also list the sentences where a cue is shown or missed wrongly",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(options["file"])
        try:
            with path.open(encoding="utf-8") as lines:
                examples = read_examples(lines)
        except OSError as error:
            raise CommandError(f"cannot read {path}: {error.strerror}") from None
        except UnicodeDecodeError:
            raise CommandError(f"{path} is not UTF-8 text") from None
        except EvaluationFileError as error:
            raise CommandError(f"{path}, {error}") from None
        report = evaluate(examples)
        if options["json"]:
            self.stdout.write(json.dumps(report.summary()))
            return
        self._table(path, len(examples), report)
        if options["mistakes"]:
            self._mistakes(report)

    def _table(self, path: Path, count: int, report: Report) -> None:
        self.stdout.write(f"Emotion cues measured on {path}: {count} sentences")
        self.stdout.write("")
        self.stdout.write("A cue is shown, against labels other than none:")
        self.stdout.write(
            f"  {'lang':<6}{'n':>5}{'emotional':>11}{'shown':>7}{'precision':>11}{'recall':>8}"
        )
        for language, tally in report.languages.items():
            self.stdout.write(
                f"  {language:<6}{tally.n:>5}{tally.positives:>11}{tally.shown:>7}"
                f"{tally.precision:>11.3f}{tally.recall:>8.3f}"
            )
        self.stdout.write("")
        self.stdout.write("Per label (the label shown, against the label given):")
        self.stdout.write(
            f"  {'lang':<6}{'label':<15}{'given':>6}{'shown':>7}{'right':>7}"
            f"{'precision':>11}{'recall':>8}"
        )
        for language, tallies in report.labels.items():
            for label in LABELS:
                tally = tallies[label]
                self.stdout.write(
                    f"  {language:<6}{label:<15}{tally.positives:>6}{tally.shown:>7}"
                    f"{tally.correct:>7}{tally.precision:>11.3f}{tally.recall:>8.3f}"
                )

    def _mistakes(self, report: Report) -> None:
        self.stdout.write("")
        self.stdout.write(f"Mistakes ({len(report.mistakes)}):")
        for example, shown in report.mistakes:
            given = ", ".join(sorted(example.labels))
            found = ", ".join(sorted(shown)) or "nothing"
            self.stdout.write(
                f"  line {example.line} {example.id}: {example.text}"
                f"  [given {given}; shown {found}]"
            )
