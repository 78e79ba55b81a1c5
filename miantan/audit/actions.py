"""Every audit action code the application writes, with the label a person reads in the access
log ("孙丽 opened the profile"). One registry for the whole code base: a code written anywhere
must be listed here (tests/audit/test_action_labels.py finds every code in the source and
checks that it has a label and a Chinese translation)."""

from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

ACTION_LABELS = {
    # accounts
    "accounts.login.succeeded": _("signed in"),
    "accounts.login.failed": _("failed to sign in"),
    "accounts.login.locked_out": _("was locked out after failed sign-ins"),
    "accounts.token.created": _("created an API token"),
    "accounts.token.revoked": _("revoked an API token"),
    # people
    "people.organisation.created": _("created the organisation"),
    "people.department.created": _("created a department"),
    "people.department.moved": _("moved a department"),
    "people.position.created": _("created a position"),
    "people.employee.viewed": _("opened the profile"),
    "people.employee.created": _("created the profile"),
    "people.employee.updated": _("changed the profile"),
    "people.employee.manager_changed": _("changed the manager"),
    "people.employee.left": _("recorded the leaving date"),
    "people.employee.language_changed": _("changed the language"),
    "people.directory.searched": _("searched the directory"),
    "people.role.assigned": _("assigned a role"),
    "people.role.revoked": _("revoked a role"),
    "people.org_import.applied": _("imported the organisation"),
    "people.org_import.rejected": _("uploaded an organisation file that was rejected"),
    "people.org_import.failed": _("uploaded an organisation file whose import failed"),
    "people.org_import.checked": _("uploaded an organisation file that awaits confirmation"),
    "people.org_import.interrupted": _("found an interrupted organisation import and retried it"),
    "people.org_import.confirmed": _("confirmed the new departments of an organisation import"),
    "people.org_import.discarded": _("discarded an organisation import"),
    # metrics
    "metrics.profile.viewed": _("opened the performance profile"),
    "metrics.department_profile.viewed": _("opened a department's performance profile"),
    "metrics.gaps.viewed": _("read the KPI gaps"),
    "metrics.brief.viewed": _("opened the talk brief"),
    "metrics.evidence.viewed": _("read the evidence log"),
    "metrics.evidence.recorded": _("recorded an event in the evidence log"),
    "metrics.evidence.removed": _("removed an entry from the evidence log"),
    "metrics.assignment.created": _("assigned a KPI"),
    "metrics.assignment.updated": _("changed a KPI assignment"),
    "metrics.assignment.removed": _("removed a KPI assignment"),
    "metrics.kpi.range_changed": _("changed the valid range of a KPI"),
    "metrics.kpi_pack.loaded": _("loaded a KPI pack"),
    "metrics.kpi.added_from_pack": _("added a KPI of an industry pack to the catalogue"),
    "metrics.import.applied": _("imported KPI values"),
    "metrics.import.failed": _("uploaded a KPI file whose import failed"),
    "metrics.import.interrupted": _("found an interrupted KPI import"),
    # scheduling
    "scheduling.shift_code.created": _("added a shift code"),
    "scheduling.shift_code.updated": _("changed a shift code"),
    "scheduling.shift_code.retired": _("retired a shift code"),
    "scheduling.shift_code.reinstated": _("reinstated a shift code"),
    "scheduling.working_hours.changed": _("changed the working hours"),
    "scheduling.roster.imported": _("imported a shift roster"),
    "scheduling.holidays.loaded": _("loaded the public holidays"),
    "scheduling.holidays.confirmed": _("confirmed the public holidays of a year"),
    "scheduling.holidays.unconfirmed": _("withdrew the confirmation of a year's holidays"),
    "scheduling.holiday_day.saved": _("changed a holiday or working day"),
    "scheduling.holiday_day.removed": _("removed a holiday or working day"),
    "scheduling.busy_blocks.imported": _("imported busy times from a calendar"),
    "scheduling.feed.read": _("read the calendar feed"),
    "scheduling.feed_token.created": _("created a calendar link"),
    "scheduling.feed_token.revoked": _("switched off a calendar link"),
    # interviews: who opened a talk, and its steps (interviews.talk.<TalkEvent>, same words)
    "interviews.talk.viewed": _("opened a talk"),
    "interviews.talk.slots_viewed": _("looked up times for a talk"),
    "interviews.talk.requested": pgettext_lazy("talk event", "requested a talk"),
    "interviews.talk.proposed": pgettext_lazy("talk event", "proposed a time"),
    "interviews.talk.accepted": pgettext_lazy("talk event", "accepted the time"),
    "interviews.talk.declined": pgettext_lazy("talk event", "declined"),
    "interviews.talk.rescheduled": pgettext_lazy("talk event", "proposed a new time"),
    "interviews.talk.cancelled": pgettext_lazy("talk event", "cancelled"),
    "interviews.talk.expired": pgettext_lazy("talk event", "expired without an answer"),
    "interviews.talk.kept": pgettext_lazy("talk event", "kept the booked time"),
    "interviews.talk.started": pgettext_lazy("talk event", "started the talk"),
    "interviews.talk.agenda_edited": pgettext_lazy("talk event", "edited the agenda"),
    "interviews.talk.reminded": pgettext_lazy("talk event", "was reminded"),
    "interviews.cycle.created": _("created a review cycle"),
    "interviews.cycle.launched": _("launched a review cycle"),
    "interviews.cycle.viewed": _("opened a review cycle"),
}


def label_for(action: str) -> str:
    """The readable label of a code; the code itself for one that is not registered."""
    return str(ACTION_LABELS.get(action, action))
