"""normalize_code: every way a code is written or typed meets the table's code, and only it."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fieldkit.diagnostics.normalize import looks_like_code, normalize_code

SAME = [
    # (typed, as the table writes it)
    ("ERR-1", "ERR-1"),
    ("ERR—1", "ERR-1"),  # em dash, as the manual writes it
    ("ERR–1", "ERR-1"),  # en dash
    ("ERR‐1", "ERR-1"),  # hyphen U+2010
    ("ERR－1", "ERR-1"),  # full-width hyphen-minus
    ("ERR−1", "ERR-1"),  # minus sign
    ("ERR--1", "ERR-1"),  # doubled dash
    ("ERR——1", "ERR-1"),
    ("ERR - 1", "ERR-1"),
    ("ERR 1", "ERR-1"),
    ("err1", "ERR-1"),
    ("Err-1", "ERR-1"),
    ("eRr_1", "ERR-1"),
    ("ＥＲＲ－１", "ERR-1"),  # full-width letters and digits
    ("ＥＲＲ１", "ERR-1"),
    (" ERR-1 ", "ERR-1"),
    ("ERR\u30001", "ERR-1"),  # ideographic space
    ("ERR-01", "ERR-1"),
    ("e0", "E0"),
    ("E00", "E0"),
    ("Ｅ０", "E0"),
    ("AL1", "AL 01"),
    ("al 01", "AL 01"),
    ("AL01", "AL 01"),
    ("AL-1", "AL 01"),
    ("ａｌ　０１", "AL 01"),
    ("ea", "EA"),
    ("F2", "f2"),
]

DIFFERENT = [
    ("ERR-1", "ERR-10"),
    ("ERR-1", "ERR-11"),
    ("ERR1", "ERR10"),
    ("AL 01", "AL 10"),
    ("AL1", "AL 11"),
    ("E0", "E1"),
    ("E0", "EO"),  # letter O is not zero: no guessing
    ("ERR-1", "ER-1"),
    ("E1", "EE1"),
    ("1 2", "12"),
    ("E10", "E1 0"),
]


@pytest.mark.parametrize(("typed", "written"), SAME)
def test_forms_meet(typed: str, written: str) -> None:
    assert normalize_code(typed) == normalize_code(written)


@pytest.mark.parametrize(("a", "b"), DIFFERENT)
def test_different_codes_stay_apart(a: str, b: str) -> None:
    assert normalize_code(a) != normalize_code(b)


@pytest.mark.parametrize(
    ("raw", "key"),
    [("ERR—1", "ERR-1"), ("AL 01", "AL-1"), ("e0", "E-0"), ("EA", "EA"), ("--F", "F"), ("", "")],
)
def test_key_shape(raw: str, key: str) -> None:
    assert normalize_code(raw) == key


def test_chinese_is_kept_and_only_matches_itself() -> None:
    assert normalize_code("故障") == "故障"
    assert normalize_code("故障") != normalize_code("关阀")


def test_looks_like_code() -> None:
    assert looks_like_code("ERR-1")
    assert looks_like_code("al 01")
    assert not looks_like_code("不显示")
    assert not looks_like_code("   ")


codes = st.from_regex(r"[A-Za-z]{1,3}[0-9]{1,2}", fullmatch=True)


@given(codes)
def test_idempotent(code: str) -> None:
    key = normalize_code(code)
    assert normalize_code(key) == key


@given(codes, st.sampled_from(["-", "—", "–", "－", "--", " ", "_", ""]))
def test_separator_and_case_do_not_matter(code: str, sep: str) -> None:
    letters = code.rstrip("0123456789")
    digits = code[len(letters) :]
    assert normalize_code(f"{letters.lower()}{sep}{digits}") == normalize_code(code.upper())


@given(codes)
def test_full_width_does_not_matter(code: str) -> None:
    wide = "".join(chr(ord(ch) + 0xFEE0) for ch in code)
    assert normalize_code(wide) == normalize_code(code)


@given(st.from_regex(r"[A-Z]{1,3}", fullmatch=True), st.integers(1, 9), st.integers(0, 9))
def test_appending_a_digit_changes_the_code(letters: str, first: int, extra: int) -> None:
    assert normalize_code(f"{letters}-{first}") != normalize_code(f"{letters}-{first}{extra}")
