"""The pinyin cache: later processes answer pinyin queries without importing pypinyin."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from fieldkit.diagnostics.catalog import load_catalog_from

FIXTURES = Path(__file__).parent / "fixtures" / "data"

_SECOND_PROCESS = """
import json, sys
from pathlib import Path
from fieldkit.diagnostics.catalog import load_catalog_from
catalog = load_catalog_from([Path(sys.argv[1])])
catalog.pinyin_cache = Path(sys.argv[2])
hits = [h.entry.id for h in catalog.search("bxs")]
print(json.dumps({"hits": hits, "pypinyin": "pypinyin" in sys.modules}))
"""


def second_process(cache: Path) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", _SECOND_PROCESS, str(FIXTURES), str(cache)],
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=60,
        check=True,
    )
    return json.loads(done.stdout)


def test_the_cache_spares_later_processes_pypinyin(tmp_path: Path) -> None:
    cache = tmp_path / "cache" / "pinyin.json"
    catalog = load_catalog_from([FIXTURES])
    catalog.pinyin_cache = cache
    first = [h.entry.id for h in catalog.search("bxs")]
    assert first and first[0] == "flowmeter.02"
    stored = json.loads(cache.read_text(encoding="utf-8"))
    assert stored["texts"]["流量计液晶屏不显示"] == [
        "liu",
        "liang",
        "ji",
        "ye",
        "jing",
        "ping",
        "bu",
        "xian",
        "shi",
    ]
    again = second_process(cache)
    assert again == {"hits": first, "pypinyin": False}


@pytest.mark.parametrize(
    "content",
    [
        "not json",
        "[1, 2]",
        '{"format": 99, "texts": {}}',
        '{"format": 1, "texts": {"流量计液晶屏不显示": 5}}',
    ],
)
def test_a_bad_cache_is_ignored_and_rewritten(tmp_path: Path, content: str) -> None:
    cache = tmp_path / "pinyin.json"
    cache.write_text(content, encoding="utf-8")
    again = second_process(cache)
    assert again["hits"][0] == "flowmeter.02"
    assert again["pypinyin"] is True  # had to compute
    assert json.loads(cache.read_text(encoding="utf-8"))["format"] == 1


def test_no_cache_folder_still_works(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x", encoding="utf-8")
    catalog = load_catalog_from([FIXTURES])
    catalog.pinyin_cache = blocker / "cannot" / "pinyin.json"  # parent is a file
    assert catalog.search("bxs")[0].entry.id == "flowmeter.02"


def test_default_cache_lives_in_the_user_data_dir(isolated_home: Path) -> None:
    catalog = load_catalog_from([FIXTURES])
    assert catalog.pinyin_cache == isolated_home / "data" / "cache" / "pinyin.json"
    catalog.search("bxs")
    assert catalog.pinyin_cache.is_file()
