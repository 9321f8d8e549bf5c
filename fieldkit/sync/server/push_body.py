"""The body of ``POST /api/v1/visits/batch``, validated straight from its bytes.

FastAPI would parse the JSON into Python objects and validate those (about twice the CPU of
pydantic's own JSON validation for a 200-visit batch, the bulk of a push's cost). Here the
bytes go to :meth:`VisitBatch.model_validate_json`; only a body that this fast parser refuses
as JSON (a lone surrogate escape, ``NaN``, nesting beyond its limit …) is parsed again with
:mod:`json` and validated as Python objects, so every refusal keeps the message and field
path it had (422 naming the field, 400 for text that is not JSON at all).

The OpenAPI document still describes the body (``VisitBatch``), see :func:`document`.
"""

from __future__ import annotations

import email.message
import json
from typing import Any

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from fieldkit.sync.schema import VisitBatch

REQUEST_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/VisitBatch"}}},
    }
}


def _is_json(content_type: str | None) -> bool:
    """FastAPI's rule: no Content-Type, ``application/json`` or ``application/*+json``."""
    if not content_type:
        return True
    message = email.message.Message()
    message["content-type"] = content_type
    subtype = message.get_content_subtype()
    return message.get_content_maintype() == "application" and (
        subtype == "json" or subtype.endswith("+json")
    )


def _request_error(exc: ValidationError) -> RequestValidationError:
    errors = [
        {"type": e["type"], "loc": ("body", *e["loc"]), "msg": e["msg"], "input": None}
        for e in exc.errors(include_url=False, include_context=False, include_input=False)
    ]
    return RequestValidationError(errors)


def parse_batch(body: bytes, content_type: str | None) -> VisitBatch:
    """The batch in ``body``, or :class:`RequestValidationError` as FastAPI would raise it."""
    if not _is_json(content_type):
        raise RequestValidationError(
            [
                {
                    "type": "model_attributes_type",
                    "loc": ("body",),
                    "msg": "the body must be JSON (Content-Type: application/json)",
                    "input": None,
                }
            ]
        )
    try:
        return VisitBatch.model_validate_json(body)
    except ValidationError as exc:
        if not any(e["type"] == "json_invalid" for e in exc.errors(include_url=False)):
            raise _request_error(exc) from None
    try:  # the slow path: what the fast parser refused, as the standard parser reads it
        data = json.loads(body)
    except ValueError as exc:  # JSONDecodeError, or bytes that are not UTF-8
        raise RequestValidationError(
            [
                {
                    "type": "json_invalid",
                    "loc": ("body",),
                    "msg": "JSON decode error",
                    "input": None,
                    "ctx": {"error": str(exc)},
                }
            ]
        ) from None
    try:
        return VisitBatch.model_validate(data)
    except ValidationError as exc:
        raise _request_error(exc) from None


def document(app: FastAPI) -> None:
    """Keep ``VisitBatch`` (and what it refers to) in the app's OpenAPI components."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = build()
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        batch = VisitBatch.model_json_schema(ref_template="#/components/schemas/{model}")
        for name, definition in batch.pop("$defs", {}).items():
            components.setdefault(name, definition)
        components.setdefault("VisitBatch", batch)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
