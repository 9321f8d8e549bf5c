"""Bilingual text and source attribution shared by every data table."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

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
    the UI shows them next to every entry.
    """

    kind: Literal["manual", "external", "utility"]
    section: str | None = None
    page: int | None = None
    citation: str | None = None
    confidence: Confidence | None = None
    note: Text | None = None

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
