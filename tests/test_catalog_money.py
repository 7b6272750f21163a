"""Prices as people write them become integer fen, or a clear refusal."""
from __future__ import annotations

import pytest

from catalog.money import format_yuan, parse_yuan, yuan_text


@pytest.mark.parametrize(
    "text, fen",
    [
        ("25", 2500), ("25.5", 2550), ("25.50", 2550), ("¥25.50", 2550), ("￥25.50", 2550),
        ("25元", 2500), ("25.5 元", 2550), ("２５．５０", 2550), ("１２元", 1200), (" 0.01 ", 1),
        ("1,250.00", 125000), ("0", 0), (25, 2500), ("RMB 3", 300), (".5", 50),
    ],
)
def test_prices_people_write_are_read_as_fen(text, fen):
    assert parse_yuan(text) == fen


@pytest.mark.parametrize(
    "text, reason",
    [
        ("", "不能为空"), ("  ", "不能为空"), ("-5", "负数"), ("¥-5", "负数"), ("abc", "不是数字"),
        ("25.555", "两位小数"), ("12,34", "不是数字"), ("2000000", "太大"), ("25元5角", "不是数字"),
        ("1e3", "不是数字"), ("NaN", "不是数字"),
    ],
)
def test_bad_prices_are_refused_with_the_reason(text, reason):
    with pytest.raises(ValueError, match=reason):
        parse_yuan(text)


def test_fen_are_shown_as_yuan():
    assert format_yuan(2550) == "¥25.50"
    assert format_yuan(5) == "¥0.05"
    assert format_yuan(0) == "¥0.00"
    assert format_yuan(None) == ""
    assert format_yuan(-150) == "-¥1.50"
    assert yuan_text(123456) == "1234.56"


def test_formatting_and_parsing_round_trip():
    for fen in (0, 1, 99, 100, 2550, 99999999):
        assert parse_yuan(format_yuan(fen)) == fen
