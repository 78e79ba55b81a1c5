"""JSON request bodies, read the same way by every router: the schema for the OpenAPI document,
and the body parsed into it, refused field by field with translated messages."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Field, Schema, Status
from pydantic import ValidationError

from miantan.core.errors import InvalidFields

In = TypeVar("In", bound=Schema)


class FieldErrorsOut(Schema):
    detail: str
    code: str
    errors: dict[str, str] = Field(
        default_factory=dict, description="what is wrong, per field, when the body was refused"
    )


def answer_refusals(operation: Callable[..., Any]) -> Callable[..., Any]:
    """A router decorator: a body refused field by field (`InvalidFields`) answers 400 with
    the errors per field (`FieldErrorsOut`); other domain errors go to the API's own
    handlers."""

    @functools.wraps(operation)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return operation(*args, **kwargs)
        except InvalidFields as error:
            errors = {field: str(message) for field, message in error.errors.items()}
            return Status(400, {"detail": str(error.message), "code": error.code, "errors": errors})

    return run


def body_of(schema: type[Schema]) -> dict[str, Any]:
    """`openapi_extra` for an operation that reads its JSON body itself (after the access
    checks, so that a refusal is about permission first)."""
    return {
        "requestBody": {
            "content": {"application/json": {"schema": schema.model_json_schema()}},
            "required": True,
        }
    }


def parse(
    schema: type[In], request: HttpRequest, *, error: type[InvalidFields] = InvalidFields
) -> In:
    """The JSON body as `schema` (an empty body is an empty object); raises `error` with a
    translated message per field ("items.0.start") when it does not fit."""
    try:
        return schema.model_validate_json(request.body or b"{}")
    except ValidationError as problem_list:
        errors: dict[str, Any] = {}
        for problem in problem_list.errors():
            field = ".".join(str(part) for part in problem["loc"]) or "body"
            errors.setdefault(field, schema_message(problem["type"]))
        raise error(errors) from problem_list


def schema_message(kind: str) -> Any:
    """What is wrong with a value, by pydantic's error type."""
    if kind == "missing":
        return _("This field is required.")
    if kind == "timezone_aware":
        return _("Give the time with its UTC offset, e.g. 2026-12-01T09:00:00+08:00.")
    if kind.startswith("datetime"):
        return _("Enter a time in ISO 8601 with its UTC offset.")
    if kind.startswith("date"):
        return _("Enter a date as YYYY-MM-DD.")
    if kind == "json_invalid":
        return _("The body is not valid JSON.")
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return _("Send a JSON object.")
    if kind.startswith("int"):
        return _("Enter a whole number.")
    if kind.startswith("bool"):
        return _("Enter true or false.")
    if kind == "list_type":
        return _("Send a list.")
    if kind.startswith("string"):
        return _("Enter text.")
    return _("Enter a valid value.")
