"""What the interviewer reads with a cue: the feeling it may show and a gentle script to answer
it, in the interviewer's language."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.utils import translation
from django.utils.functional import Promise
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

if TYPE_CHECKING:
    from .detector import Cue

FEELINGS: dict[str, Promise] = {
    "frustration": _("The other person may be frustrated"),
    "distress": _("The other person may be under strain"),
    "disengagement": _("The other person may be withdrawing"),
    "defensiveness": _("The other person may feel blamed"),
}

HINTS: dict[str, Promise] = {
    "frustration": _(
        "Acknowledge the feeling before the facts, for example “I can hear this has been "
        "frustrating. What has been the hardest part for you?”"
    ),
    "distress": _(
        "Slow down and offer support, for example “Thank you for telling me. Let's take a "
        "moment: what would help you most right now?”"
    ),
    "disengagement": _(
        "Don't press; leave room and offer a choice, for example “We can come back to this "
        "later. What would be most useful for you to talk about now?”"
    ),
    "defensiveness": _(
        "Move from blame to facts and next steps, for example “I'm not here to find fault. "
        "Let's look at what happened together and what would help next time.”"
    ),
}


def cue_message(cue: Cue, language: str | None = None) -> str:
    """The sentence shown to the interviewer, such as "对方可能感到沮丧或不满：先确认对方的
    感受，再谈事实……", in `language` (the active language without one)."""
    with translation.override(language or translation.get_language()):
        return gettext("%(feeling)s. %(hint)s") % {
            "feeling": FEELINGS[cue.label],
            "hint": HINTS[cue.label],
        }
