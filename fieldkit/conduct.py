"""The utility's service conduct (服务理念, 规范化服务承诺, 文明售后, 文明服务用语/忌语).

The text lives in ``data/conduct/service_conduct.yaml`` (Chinese as the manual writes it,
with an English rendering) so a utility can edit it without touching code. A folder named
in ``FIELDKIT_DATA`` that holds ``conduct/service_conduct.yaml`` replaces the shipped file
(the last such folder wins).

Usage::

    from fieldkit.conduct import load_conduct

    conduct = load_conduct()
    for item in conduct.section("forbidden-phrases").items:  # 文明服务忌语: never say these
        print(item.zh)

Every problem in the file is reported at once as a :class:`fieldkit.datafiles.DataFileError`
naming the file, the section id and the field.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, model_validator

from fieldkit.datafiles import DataFileError, DataProblem, load_entries, read_yaml, validate
from fieldkit.paths import data_dirs, shipped_data_dir
from fieldkit.textmodel import Source, Strict, Text

SCHEMA_ID = "fieldkit.service_conduct/1"
CONDUCT_DIR = "conduct"
CONDUCT_FILE = "service_conduct.yaml"

SectionKind = Literal["principle", "rules", "phrases", "forbidden_phrases"]


class ConductSection(Strict):
    """One block of the conduct rules, e.g. 九不准 (nine prohibitions) or 文明服务忌语.

    ``kind``: ``principle`` (a motto), ``rules`` (things to do or not to do), ``phrases``
    (courteous phrases to use) or ``forbidden_phrases`` (phrases never to be said).
    """

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    title: Text
    kind: SectionKind
    items: list[Text] = Field(min_length=1)
    group: Text | None = Field(
        default=None, description="the manual's heading this block sits under, e.g. 规范化服务承诺"
    )
    note: Text | None = None
    source: Source | None = Field(default=None, description="overrides the file's source")


class _Header(Strict):
    schema_: Literal["fieldkit.service_conduct/1"] = Field(alias="schema")
    source: Source


class ServiceConduct(Strict):
    """All conduct sections, in the order the manual gives them."""

    schema_: Literal["fieldkit.service_conduct/1"] = Field(alias="schema")
    source: Source
    sections: list[ConductSection] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_ids(self) -> ServiceConduct:
        seen: set[str] = set()
        for section in self.sections:
            if section.id in seen:
                raise ValueError(f"section id {section.id!r} is used twice")
            seen.add(section.id)
        return self

    def section(self, section_id: str) -> ConductSection:
        """The section with this id; ``KeyError`` naming the known ids if there is none."""
        for section in self.sections:
            if section.id == section_id:
                return section
        known = ", ".join(s.id for s in self.sections)
        raise KeyError(f"no conduct section {section_id!r} (known: {known})")

    def of_kind(self, kind: SectionKind) -> list[ConductSection]:
        return [s for s in self.sections if s.kind == kind]

    def source_of(self, section: ConductSection) -> Source:
        return section.source or self.source


def conduct_file(extra_dirs: list[Path] | None = None) -> Path:
    """The conduct file in use: the last data folder that has one, else the shipped file."""
    chosen = shipped_data_dir() / CONDUCT_DIR / CONDUCT_FILE
    for folder in data_dirs(extra_dirs):
        for name in (CONDUCT_FILE, Path(CONDUCT_FILE).with_suffix(".yml").name):
            candidate = folder / CONDUCT_DIR / name
            if candidate.is_file():
                chosen = candidate
                break
    return chosen


def parse_conduct(path: Path, data: Any) -> tuple[ServiceConduct | None, list[DataProblem]]:
    """Validate parsed YAML; every problem names the file, the section id and the field."""
    if not isinstance(data, dict):
        return None, [
            DataProblem(path, "the file must hold a mapping with schema, source, sections")
        ]
    header_data = {k: data[k] for k in ("schema", "source") if k in data}
    _, problems = validate(_Header, header_data, path)
    for key in sorted(set(data) - {"schema", "source", "sections"}):
        problems.append(DataProblem(path, "unknown field (check its spelling)", field=key))
    sections, section_problems = load_entries(
        path, data.get("sections"), ConductSection, "sections"
    )
    problems.extend(section_problems)
    if "sections" not in data:
        problems.append(DataProblem(path, "required field is missing", field="sections"))
    seen: set[str] = set()
    for section in sections:
        if section.id in seen:
            problems.append(
                DataProblem(path, "section id is used twice", entry=section.id, field="id")
            )
        seen.add(section.id)
    if problems:
        return None, problems
    conduct, problems = validate(
        ServiceConduct,
        {"schema": data["schema"], "source": data["source"], "sections": sections},
        path,
    )
    return conduct, problems


def load_conduct(extra_dirs: list[Path] | None = None) -> ServiceConduct:
    """Load the service conduct.

    ``extra_dirs`` are data folders that may override the shipped file (each checked for
    ``conduct/service_conduct.yaml``; the last one wins). ``None`` means the folders named
    in ``FIELDKIT_DATA``. Raises :class:`DataFileError` listing every problem in the file.
    """
    path = conduct_file(extra_dirs)
    data, problems = read_yaml(path)
    if problems:
        raise DataFileError(problems)
    conduct, problems = parse_conduct(path, data)
    if conduct is None:
        raise DataFileError(problems)
    return conduct
