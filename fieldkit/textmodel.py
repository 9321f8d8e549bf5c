"""Bilingual text and source attribution shared by every data table."""

from __future__ import annotations

from collections.abc import Iterator
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class Strict(BaseModel):
    """Base for data-file models: unknown fields are errors (they are usually typos)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Text(Strict):
    """The manual's Chinese as written (``zh``) and an English rendering (``en``)."""

    zh: str = Field(min_length=1)
    en: str = Field(min_length=1)

    def get(self, language: str) -> str:
        return self.en if language == "en" else self.zh


class Confidence(StrEnum):
    """How far an entry from outside the manual can be trusted (see research/domain.md)."""

    VERIFIED = "V"  # read verbatim in the cited source
    SECONDARY = "S"  # blog, SEO page, third-party app, vendor page
    UNVERIFIED = "U"  # recollection or inference; check before relying on it


class Source(Strict):
    """Where a table or entry comes from.

    ``kind: manual`` → the utility's 售后服务维修手册; ``section`` is the manual's heading
    (as written) and ``page`` its page number in the manual's table of contents.
    ``kind: external`` → anything else; ``citation`` and ``confidence`` are required and
    the UI shows them next to every entry. ``kind: utility`` → the utility's own rule or
    addition (not in the manual); ``citation`` says which.

    ``citation`` is what the technician reads, in both languages (``{zh, en}``): a
    standard's name, a publisher, a page title — never a repository path or an internal
    id. The exact locator for an auditor (URL, repository and file, research-note
    section) goes in ``reference``, which no source line shows. A plain string is still
    read (a utility's own data in one language) and shown as written.
    """

    kind: Literal["manual", "external", "utility"]
    section: str | None = None
    page: int | None = None
    citation: Text | str | None = None
    reference: str | None = Field(
        default=None,
        description="exact locator for auditors (URL, file); never shown in a source line",
    )
    confidence: Confidence | None = None
    note: Text | None = None

    def citation_text(self, language: str) -> str | None:
        """The citation in ``language`` (a plain-string citation as written)."""
        if self.citation is None:
            return None
        if isinstance(self.citation, Text):
            return self.citation.get(language)
        return self.citation

    @model_validator(mode="after")
    def _check(self) -> Source:
        if self.kind == "manual" and not self.section:
            raise ValueError("a manual source needs 'section' (the manual's heading)")
        if self.kind == "external" and (not self.citation or self.confidence is None):
            raise ValueError("an external source needs 'citation' and 'confidence' (V, S or U)")
        return self

    @property
    def is_manual(self) -> bool:
        return self.kind == "manual"


class AsWritten(Strict):
    """原文如此: a word the manual prints with a typo, or that is unclear, kept as written.

    ``written`` is the characters as the manual prints them (they must occur in the Chinese
    text of the entry, card or step that lists them); ``means`` the intended word when it
    is clear (拨卡 → 拔卡); ``explanation`` anything more (e.g. why it is unclear). The UI
    shows each one under the text, so the technician never has to guess.
    """

    written: str = Field(min_length=1, max_length=200)
    means: str | None = Field(default=None, min_length=1, max_length=200)
    explanation: Text | None = None

    @model_validator(mode="after")
    def _says_something(self) -> AsWritten:
        if self.means is None and self.explanation is None:
            raise ValueError("say what the words mean ('means') or why they are unclear")
        if self.means is not None and self.means == self.written:
            raise ValueError("'means' is the same as 'written'")
        return self


def chinese_texts(value: Any, depth: int = 0) -> Iterator[str]:
    """Every ``Text.zh`` (and plain string) inside a model, list or dict, depth-limited."""
    if depth > 12:
        return
    if isinstance(value, Text):
        yield value.zh
    elif isinstance(value, str):
        yield value
    elif isinstance(value, BaseModel):
        for name in type(value).model_fields:
            if name not in ("as_written", "source", "id", "see_also"):
                yield from chinese_texts(getattr(value, name), depth + 1)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from chinese_texts(item, depth + 1)
    elif isinstance(value, dict):
        for item in value.values():
            yield from chinese_texts(item, depth + 1)


def check_as_written(items: list[AsWritten], owner: Any) -> None:
    """Raise ``ValueError`` for an ``as_written`` word that ``owner``'s Chinese lacks."""
    if not items:
        return
    texts = list(chinese_texts(owner))
    for item in items:
        if not any(item.written in text for text in texts):
            raise ValueError(f"as_written {item.written!r} does not occur in the Chinese text here")
