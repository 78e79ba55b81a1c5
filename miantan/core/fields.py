"""Model fields whose values are stored sealed (`miantan.core.crypto`).

The database holds ``mt1:…`` tokens only; the model attribute holds the plain value. The
context of each value is the column (``app_label.model.field``), unless the field names one:
give the historical and revision copies of a column the same context as the column itself.

Sealed columns cannot be searched or sorted in SQL: each value is sealed with its own random
nonce, so equal texts give different tokens. A filter on them is refused (FieldError), except
for asking whether the value is empty (``message=""``, ``agenda=[]`` for a field whose default
is an empty list) or NULL. They hold free text, never keys or anything a query selects on.

`seal_existing` is the data migration that seals the plain values a column held before it
became sealed (and opens them again when the migration is reversed).
"""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.core.exceptions import FieldError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import migrations, models
from django.db.models.lookups import Exact, IsNull

from . import crypto


class _SealedExact(Exact):
    """``field=""`` (or the field's empty default) and ``field=Sealed(token)``; nothing else."""

    def get_prep_lookup(self) -> Any:
        prepared = super().get_prep_lookup()
        token = isinstance(self.rhs, crypto.Sealed) or hasattr(self.rhs, "resolve_expression")
        if not token and prepared not in ("", None):
            raise FieldError(_unsearchable(self.lhs.output_field, "exact"))
        return prepared


class _Sealed:
    """The sealing shared by the text and JSON fields."""

    context: str | None

    @property
    def sealing_context(self) -> str:
        """The context every value of this column is sealed with."""
        if self.context:
            return self.context
        model = self.model  # type: ignore[attr-defined]
        return f"{model._meta.label_lower}.{self.name}"  # type: ignore[attr-defined]

    def _context(self) -> str:
        return self.sealing_context

    def get_lookup(self, lookup_name: str) -> Any:
        if lookup_name == "exact":
            return _SealedExact
        if lookup_name == "isnull":
            return IsNull
        raise FieldError(_unsearchable(self, lookup_name))

    def get_transform(self, lookup_name: str) -> Any:
        raise FieldError(_unsearchable(self, lookup_name))


def _unsearchable(field: Any, lookup_name: str) -> str:
    label = f"{field.model._meta.label_lower}.{field.name}"
    return (
        f"{label} is stored sealed and cannot be searched ('{lookup_name}'); only an empty"
        " value can be asked for"
    )


class EncryptedTextField(_Sealed, models.TextField):
    """Free text stored sealed. "" is stored as "": that a value is empty is not hidden."""

    def __init__(self, *args: Any, context: str | None = None, **kwargs: Any) -> None:
        self.context = context
        super().__init__(*args, **kwargs)

    def deconstruct(self) -> Any:
        name, path, args, kwargs = super().deconstruct()
        if self.context:
            kwargs["context"] = self.context
        return name, path, args, kwargs

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Any:
        if value is None or value == "":
            return value
        return crypto.decrypt(value, context=self._context())

    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)
        if value is None or value == "" or isinstance(value, crypto.Sealed):
            return value
        return crypto.encrypt(str(value), context=self._context())


class EncryptedJSONField(_Sealed, models.TextField):
    """A JSON value (lists, dicts, text) stored sealed as one token. The field's empty default
    (``[]`` for ``default=list``) is stored as "", like empty text."""

    # For the type checker's Django plugin: the attribute holds any JSON value, not text.
    _pyi_private_set_type: Any
    _pyi_private_get_type: Any
    _pyi_lookup_exact_type: Any

    empty_strings_allowed = False

    def __init__(
        self, *args: Any, context: str | None = None, encoder: Any = None, **kwargs: Any
    ) -> None:
        self.context = context
        self.encoder = encoder or DjangoJSONEncoder
        super().__init__(*args, **kwargs)

    def deconstruct(self) -> Any:
        name, path, args, kwargs = super().deconstruct()
        if self.context:
            kwargs["context"] = self.context
        return name, path, args, kwargs

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Any:
        if value is None:
            return None
        if value == "":
            return self._empty()
        return json.loads(crypto.decrypt(value, context=self._context()))

    def to_python(self, value: Any) -> Any:
        if isinstance(value, crypto.Sealed):
            return json.loads(crypto.decrypt(value, context=self._context()))
        return value

    def get_prep_value(self, value: Any) -> Any:
        if value is None:
            return None
        if isinstance(value, crypto.Sealed):
            return value
        if self._is_empty(value):
            return ""
        text = json.dumps(value, cls=self.encoder, ensure_ascii=False, separators=(",", ":"))
        return crypto.encrypt(text, context=self._context())

    def value_to_string(self, obj: Any) -> Any:
        # As Django's JSONField: the serializers write the value itself, not a string of it.
        return self.value_from_object(obj)

    def formfield(
        self, form_class: Any = None, choices_form_class: Any = None, **kwargs: Any
    ) -> Any:
        return models.Field.formfield(
            self,
            form_class=form_class or forms.JSONField,
            choices_form_class=choices_form_class,
            **{"encoder": self.encoder, **kwargs},
        )

    def _empty(self) -> Any:
        return self.get_default() if self.has_default() else None

    def _is_empty(self, value: Any) -> bool:
        return self.has_default() and not value and value == self.get_default()


# --- sealing the values of a column that held plain text -------------------------------------


def seal_existing(
    app_label: str, model_name: str, field_names: list[str], *, batch_size: int = 500
) -> migrations.RunPython:
    """The operation of a data migration that follows the one making the columns sealed: seals
    every plain value of the columns, in batches of `batch_size` rows; reversed, it opens them
    again (JSON columns get their JSON text back, so that the column can become JSON again).
    Keep it in a migration of its own: PostgreSQL does not alter a table in the transaction
    that has just updated its rows.

    Works on the raw column values, not through the model: the historical model's field
    already expects tokens. A value that opens with the column's context is left as it is."""

    def forward(apps: Any, schema_editor: Any) -> None:
        model = apps.get_model(app_label, model_name)
        for name in field_names:
            field = model._meta.get_field(name)
            _rewrite_column(schema_editor.connection, model, field, _sealer(field), batch_size)

    def backward(apps: Any, schema_editor: Any) -> None:
        model = apps.get_model(app_label, model_name)
        for name in field_names:
            field = model._meta.get_field(name)
            _rewrite_column(schema_editor.connection, model, field, _opener(field), batch_size)

    return migrations.RunPython(forward, backward, elidable=False)


def _opens(field: Any, value: str) -> bool:
    if not crypto.is_sealed(value):
        return False
    try:
        crypto.decrypt(value, context=field.sealing_context)
    except crypto.DecryptionError:
        return False
    return True


def _sealer(field: Any) -> Any:
    def seal(value: str) -> str:
        if value == "" or _opens(field, value):
            return value
        if isinstance(field, EncryptedJSONField):
            return str(field.get_prep_value(json.loads(value)))
        return str(field.get_prep_value(value))

    return seal


def _opener(field: Any) -> Any:
    def open_(value: str) -> str:
        if isinstance(field, EncryptedJSONField):
            if value == "":
                empty = field._empty()
                return json.dumps(empty if empty is not None else "", ensure_ascii=False)
            return crypto.decrypt(value, context=field.sealing_context)
        if value == "":
            return value
        return crypto.decrypt(value, context=field.sealing_context)

    return open_


def _rewrite_column(connection: Any, model: Any, field: Any, change: Any, batch_size: int) -> None:
    """Pass every non-NULL value of the column through `change`, writing back what differs,
    reading `batch_size` rows at a time in primary-key order."""
    # Names from the model's metadata, quoted; values are parameters.
    quote = connection.ops.quote_name
    table, column = quote(model._meta.db_table), quote(field.column)
    pk = quote(model._meta.pk.column)
    first = f"SELECT {pk}, {column} FROM {table} WHERE {column} IS NOT NULL"  # noqa: S608
    select = f"{first} AND {pk} > %s ORDER BY {pk} LIMIT %s"
    update = f"UPDATE {table} SET {column} = %s WHERE {pk} = %s"  # noqa: S608
    last: Any = None
    with connection.cursor() as cursor:
        while True:
            if last is None:
                cursor.execute(f"{first} ORDER BY {pk} LIMIT %s", [batch_size])
            else:
                cursor.execute(select, [last, batch_size])
            rows = cursor.fetchall()
            if not rows:
                return
            changed = []
            for key, value in rows:
                text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
                new = change(text)
                if new != text:
                    changed.append((new, key))
            if changed:
                cursor.executemany(update, changed)
            last = rows[-1][0]
