from typing import Any

from django.db import models
from django.utils.encoding import force_str
from django.utils.hashable import make_hashable
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

# (field, language) -> {value: label}. Choices are fixed when the models are defined, so the
# labels of a field in a language never change while the process runs.
_LABELS: dict[tuple[int, str | None], dict[Any, str]] = {}


class ChoiceLabelsMixin:
    """`get_<field>_display()` from a table built once per field and language.

    Django's version rebuilds the field's whole choice mapping on every call, translating each
    label again: with a few dozen rows of a list, that was a tenth of the page's time."""

    def _get_FIELD_display(self, field: models.Field) -> str:
        key = (id(field), get_language())
        labels = _LABELS.get(key)
        if labels is None:
            labels = {
                make_hashable(value): force_str(label, strings_only=True)
                for value, label in field.flatchoices
            }
            _LABELS[key] = labels
        value = getattr(self, field.attname)
        return labels.get(make_hashable(value), force_str(value, strings_only=True))


class TimeStampedModel(ChoiceLabelsMixin, models.Model):
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        abstract = True
