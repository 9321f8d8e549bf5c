"""pydantic validation errors as short sentences in the user's language.

pydantic's own messages ("Input should be a valid dictionary or instance of Text") speak
Python; a supervisor fixing a YAML table or a technician fixing config.toml needs "must be
a mapping (key: value)". :func:`describe_error` turns one error of
``ValidationError.errors()`` into such a predicate, to follow the field's name.
"""

from __future__ import annotations

from typing import Any

from fieldkit.i18n import N_, _

# error type → message (placeholders filled from the error's ctx)
_MESSAGES: dict[str, str] = {
    "missing": N_("required field is missing"),
    "extra_forbidden": N_("unknown field (check its spelling)"),
    "literal_error": N_("must be one of: {expected}"),
    "enum": N_("must be one of: {expected}"),
    "string_type": N_("must be text"),
    "string_too_short": N_("must have at least {min_length} characters"),
    "string_too_long": N_("must have at most {max_length} characters"),
    "string_pattern_mismatch": N_("does not have the expected form ({pattern})"),
    "int_type": N_("must be a whole number"),
    "int_parsing": N_("must be a whole number"),
    "int_from_float": N_("must be a whole number"),
    "float_type": N_("must be a number"),
    "float_parsing": N_("must be a number"),
    "bool_type": N_("must be true or false"),
    "bool_parsing": N_("must be true or false"),
    "dict_type": N_("must be a mapping (key: value lines)"),
    "model_type": N_("must be a mapping of fields (key: value lines)"),
    "model_attributes_type": N_("must be a mapping of fields (key: value lines)"),
    "dataclass_type": N_("must be a mapping of fields (key: value lines)"),
    "list_type": N_("must be a list (lines starting with '- ')"),
    "tuple_type": N_("must be a list (lines starting with '- ')"),
    "set_type": N_("must be a list (lines starting with '- ')"),
    "too_short": N_("must have at least {min_length} items"),
    "too_long": N_("must have at most {max_length} items"),
    "greater_than": N_("must be greater than {gt}"),
    "greater_than_equal": N_("must be at least {ge}"),
    "less_than": N_("must be less than {lt}"),
    "less_than_equal": N_("must be at most {le}"),
    "path_type": N_("must be a file or folder path"),
    "url_parsing": N_("must be a URL"),
    "url_type": N_("must be a URL"),
    "url_scheme": N_("must be a URL starting with {expected_schemes}"),
    "date_type": N_("must be a date (YYYY-MM-DD)"),
    "date_parsing": N_("must be a date (YYYY-MM-DD)"),
    "date_from_datetime_parsing": N_("must be a date (YYYY-MM-DD)"),
    "datetime_type": N_("must be a date and time (YYYY-MM-DD HH:MM)"),
    "datetime_parsing": N_("must be a date and time (YYYY-MM-DD HH:MM)"),
    "union_tag_invalid": N_("has an unknown kind {tag} (expected {expected_tags})"),
    "union_tag_not_found": N_("needs the field '{discriminator}' saying which kind it is"),
    "none_required": N_("must be empty"),
    "frozen_instance": N_("cannot be changed"),
}

_VALUE_ERROR_PREFIXES = ("Value error, ", "Assertion failed, ")


def error_template(err: Any) -> tuple[str, dict[str, str]]:
    """(msgid, placeholders) for one pydantic error dict; translate later with ``_()``."""
    kind = err.get("type", "")
    template = _MESSAGES.get(kind)
    if template is not None:
        ctx = {k: _ctx_text(v) for k, v in (err.get("ctx") or {}).items()}
        try:
            template.format(**ctx)
        except (KeyError, IndexError, ValueError):
            return template.split(" (")[0].split(" {")[0], {}
        return template, ctx
    message = str(err.get("msg", kind))
    for prefix in _VALUE_ERROR_PREFIXES:
        if message.startswith(prefix):
            # Our own validators raise ValueError with an already translated message.
            message = message[len(prefix) :]
    return "{message}", {"message": message}


def describe_error(err: Any) -> str:
    """The predicate for one pydantic error dict ("must be text", "必须是文本")."""
    template, params = error_template(err)
    if template == "{message}":
        return params["message"]
    return _(template).format(**params)


def _ctx_text(value: Any) -> str:
    text = str(value)
    # literal_error's expected is "'zh' or 'en'": "zh, en" reads the same in both languages
    if " or " in text and "'" in text:
        parts = [p.strip().strip("'\"") for p in text.replace(" or ", ", ").split(",")]
        return ", ".join(p for p in parts if p)
    return text
