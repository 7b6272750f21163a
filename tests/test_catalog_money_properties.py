"""Price parsing, for every string Hypothesis can think of: what the parser accepts round-trips to
the same fen, nothing drifts through floats, and what it refuses it refuses with a message."""
from __future__ import annotations

from decimal import Decimal

from hypothesis import example, given, settings
from hypothesis import strategies as st

from catalog.money import MAX_FEN, format_yuan, parse_yuan, yuan_text
from catalog.spreadsheet import _cell_text

FEN = st.integers(min_value=0, max_value=MAX_FEN)
FULL_WIDTH = str.maketrans("0123456789.,", "０１２３４５６７８９．，")


def _grouped(fen: int) -> str:
    whole, cents = divmod(fen, 100)
    return f"{whole:,}.{cents:02d}"


@given(fen=FEN, style=st.sampled_from(["plain", "yen", "wide-yen", "yuan", "rmb", "grouped", "full-width", "short"]))
def test_every_price_written_the_ways_people_write_it_reads_back_as_the_same_fen(fen, style):
    text = yuan_text(fen)
    written = {
        "plain": text, "yen": format_yuan(fen), "wide-yen": "￥" + text, "yuan": f"{text} 元", "rmb": f"RMB {text}",
        "grouped": _grouped(fen), "full-width": _grouped(fen).translate(FULL_WIDTH),
        "short": text.rstrip("0").rstrip(".") or "0",
    }[style]
    assert parse_yuan(written) == fen


@given(st.text(max_size=30))
@example("1e3")
@example("NaN")
@example("Infinity")
@example("¥")
@example("0x10")
@example("٣٫٥")  # Arabic-Indic digits: NFKC keeps them, they are not a price
@example("12.")
@example("9" * 400)
def test_any_text_is_either_a_price_in_range_or_refused_with_a_message(text):
    try:
        fen = parse_yuan(text)
    except ValueError as exc:
        assert str(exc).strip()
    else:
        assert isinstance(fen, int) and 0 <= fen <= MAX_FEN
        # Accepted text is a price: written back it reads the same.
        assert parse_yuan(yuan_text(fen)) == fen


@given(whole=st.integers(0, MAX_FEN // 100), cents=st.integers(0, 99), digits=st.integers(1, 2))
def test_decimals_are_exact_where_floats_would_drift(whole, cents, digits):
    text = f"{whole}.{cents:02d}" if digits == 2 else f"{whole}.{cents // 10}"
    expected = whole * 100 + (cents if digits == 2 else cents // 10 * 10)
    if expected > MAX_FEN:
        return
    assert parse_yuan(text) == expected
    assert parse_yuan(Decimal(text)) == expected


@settings(max_examples=300)
@given(fen=FEN)
def test_a_price_that_excel_keeps_as_a_float_reads_back_as_the_same_fen(fen):
    # A workbook cell holds 25.55 as the nearest double; the importer writes it as a person would.
    assert parse_yuan(_cell_text(fen / 100)) == fen


@given(fen=st.integers(MAX_FEN + 1, 10**30), cents=st.integers(1, 9))
def test_too_large_or_too_precise_prices_are_refused_with_a_message(fen, cents):
    for text in (yuan_text(fen), f"{yuan_text(fen % MAX_FEN)}{cents}", f"-{yuan_text(fen % MAX_FEN)}"):
        try:
            parse_yuan(text)
        except ValueError as exc:
            assert str(exc).strip()
        else:
            raise AssertionError(f"{text!r} was accepted")
