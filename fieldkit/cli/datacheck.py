"""``fieldkit data check [FOLDER]``: every kind of table a utility edits, checked.

The kinds come from :data:`fieldkit.datafiles.DATA_KINDS` (fault codes, tool cards,
procedures, service conduct, diagnosis rules, card layouts, meter profiles). A FOLDER is
checked the way fieldkit would read it at run time: layered over the shipped data, so its
cross-references (``see_also``…) resolve against the shipped tables too.
"""

from __future__ import annotations

from pathlib import Path

import click

from fieldkit.cli.common import echo_json, json_option, lang_option
from fieldkit.cli.lookup_common import one_line_errors
from fieldkit.i18n import _


@click.group()
def data() -> None:
    """Check the data tables a utility edits."""


def check_folders(folder: Path | None) -> list[Path]:
    """The data folders as at run time: shipped, then FOLDER (or FIELDKIT_DATA's folders)."""
    from fieldkit.paths import data_dirs, shipped_data_dir

    if folder is None:
        return data_dirs()
    if folder.resolve() == shipped_data_dir().resolve():
        return [shipped_data_dir()]
    return data_dirs([folder])


@data.command("check")
@click.argument(
    "folder", required=False, type=click.Path(exists=True, file_okay=False, path_type=Path)
)
@json_option
@lang_option
@one_line_errors
def check(folder: Path | None, as_json: bool, lang: str) -> None:
    """Validate FOLDER (a data folder or a folder of tables), or the shipped data plus
    FIELDKIT_DATA. Prints every problem; exit 1 if there is any."""
    from fieldkit.datafiles import check_data
    from fieldkit.diagnostics.catalog import load_catalog_from

    folders = check_folders(folder)
    reports = check_data(folders)
    problems = [(report.kind.key, p) for report in reports for p in report.problems]
    counts = {report.kind.key: report.count for report in reports}
    catalog = load_catalog_from(folders)
    overrides = [s for s in catalog.sources if s.replaces is not None]
    if as_json:
        echo_json(
            {
                "folders": [str(f) for f in folders],
                "fault_tables": len(catalog.tables),
                "entries": counts["fault_codes"],
                "card_families": len(catalog.cards.tables),
                "cards": counts["tool_cards"],
                "procedures": counts["procedures"],
                "conduct_files": counts["conduct"],
                "diagnosis_rules": counts["diagnosis_rules"],
                "card_layouts": counts["card_layouts"],
                "meter_profiles": counts["meter_profiles"],
                "kinds": {
                    r.kind.key: {"count": r.count, "problems": len(r.problems)} for r in reports
                },
                "overrides": [str(s) for s in overrides],
                "problems": [{"kind": kind, **p.to_dict()} for kind, p in problems],
            }
        )
        raise SystemExit(1 if problems else 0)
    for _kind, problem in problems:
        click.echo(problem.describe())
    for source in overrides:
        click.echo(
            _("Override: {key} from {path} replaces {replaced}").format(
                key=source.key, path=source.path, replaced=source.replaces
            )
        )
    for report in reports:
        click.echo(
            _("{kind}: {count} checked, {problems} problem(s)").format(
                kind=_(report.kind.label), count=report.count, problems=len(report.problems)
            )
        )
    click.echo(_("Data check: {problems} problem(s)").format(problems=len(problems)))
    raise SystemExit(1 if problems else 0)
