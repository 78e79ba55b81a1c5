"""Emotion cues (PRODUCT.md C8): signs of frustration, distress, disengagement or
defensiveness in what is typed during a talk, shown to the interviewer alone with a gentle
script to answer them.

Cues are transient: `detect` reads a sentence and returns its cues; nothing here stores a
sentence, a cue or a label, and the caller shows them to the talk's interviewer only.
Organisations switch them off with `set_enabled`. The lexicons and rules are data files in
`data/`; `manage.py evaluate_cues` measures them against a labelled set.
"""

from .detector import Cue, detect
from .lexicon import LABELS
from .messages import cue_message
from .switch import ensure_may_switch, is_enabled, may_switch, set_enabled

__all__ = [
    "LABELS",
    "Cue",
    "cue_message",
    "detect",
    "ensure_may_switch",
    "is_enabled",
    "may_switch",
    "set_enabled",
]
