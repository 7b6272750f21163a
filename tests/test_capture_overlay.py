"""The overlay, checked on pixels: what the cards show, where, and that blending touches only them."""
from __future__ import annotations

import time

import numpy as np
import pytest

from capture.frames import bgr_to_i420, i420_to_bgr
from capture.overlay import (ACCENT, MUTED, NAME_MIN_SHOWN, SOLD_OUT_BG, Compositor, Layout, OverlayScene, clean_text,
                             fit_text, font, format_price, render_product_card)

W, H = 1280, 720
GREEN = np.full((H, W, 3), (90, 140, 60), np.uint8)
SCENE = OverlayScene(product_name="烟台红富士苹果", price_fen=2550, unit="斤", stock=120, link_no=3, origin="山东烟台",
                     qr_text="https://example.com/p/3", farmer_name="张大姐", village="王家村")


def composed(scene: OverlayScene, width: int = W, height: int = H, portrait: bool = False) -> tuple[np.ndarray, Compositor]:
    comp = Compositor(width, height, portrait)
    comp.set_scene(scene)
    base = bgr_to_i420(np.full((height, width, 3), (90, 140, 60), np.uint8), width, height)
    return i420_to_bgr(comp.compose(base)[0]), comp


def colour_pixels(card: np.ndarray, rgb: tuple[int, ...], tol: int = 12) -> np.ndarray:
    return np.all(np.abs(card[..., :3].astype(int) - rgb[:3]) <= tol, axis=-1) & (card[..., 3] > 200)


@pytest.mark.parametrize("fen, unit, text", [(2550, "斤", "¥25.50/斤"), (5, "", "¥0.05"), (0, "箱", "¥0.00/箱"),
                                             (123456, "袋", "¥1234.56/袋")])
def test_money_in_fen_shows_as_yuan_with_its_unit(fen, unit, text):
    assert format_price(fen, unit) == text


def test_an_empty_scene_shows_no_card_and_leaves_the_frame_untouched():
    frame, comp = composed(OverlayScene())
    assert comp.cards() == ()
    assert np.array_equal(frame, i420_to_bgr(bgr_to_i420(GREEN, W, H)))


def test_the_product_card_is_blended_only_inside_its_box():
    frame, comp = composed(SCENE)
    plain = i420_to_bgr(bgr_to_i420(GREEN, W, H))
    mask = np.zeros((H, W), bool)
    for box in comp.boxes().values():
        mask[box.y:box.y + box.h, box.x:box.x + box.w] = True
    assert np.array_equal(frame[~mask], plain[~mask])
    box = comp.boxes()["product"]
    bar = frame[box.y + 16:box.y + box.h - 16, box.x + 2:box.x + 8].reshape(-1, 3).mean(axis=0)
    assert np.all(np.abs(bar - ACCENT[2::-1]) < 6)  # opaque accent bar: the card colour exactly
    inside = frame[box.y + 4:box.y + box.h - 4, box.x + 40:box.x + box.w - 4]
    assert inside.mean() < plain.mean() * 0.6  # the dark translucent card darkens what is behind


def test_promotion_shows_the_promo_price_with_the_original_struck_through():
    def longest_muted_run(card: np.ndarray) -> int:
        mask = colour_pixels(card, MUTED, 20)
        best = 0
        for row in mask:
            run = 0
            for v in row:
                run = run + 1 if v else 0
                best = max(best, run)
        return best

    promo = np.asarray(render_product_card(OverlayScene(product_name="苹果", price_fen=2550, unit="斤",
                                                        promo_price_fen=1990, show_promo=True), 536, 1.0))
    plain = np.asarray(render_product_card(OverlayScene(product_name="苹果", price_fen=2550, unit="斤",
                                                        promo_price_fen=1990, show_promo=False), 536, 1.0))
    assert longest_muted_run(promo) >= 60  # a line across "¥25.50"
    assert longest_muted_run(plain) < 20


def test_stock_zero_shows_the_sold_out_badge():
    def red_outside_bar(stock: int) -> int:
        card = np.asarray(render_product_card(OverlayScene(product_name="苹果", price_fen=100, stock=stock), 536, 1.0))
        return int(colour_pixels(card[:, 20:], SOLD_OUT_BG).sum())

    assert red_outside_bar(0) > 500 and red_outside_bar(5) == 0


def test_sixteen_characters_of_a_name_always_fit_and_forty_are_cut_with_an_ellipsis():
    for portrait, (w, h) in ((False, (1280, 720)), (True, (720, 1280)), (False, (854, 480)), (True, (480, 854))):
        lay = Layout(w, h, portrait)
        inner = lay.product_width - 2 * round(18 * lay.scale) - max(4, round(12 * lay.scale))
        size = min(round(36 * lay.scale), int(inner / NAME_MIN_SHOWN))
        assert fit_text("龘" * 16, font(size), inner) == "龘" * 16
    assert fit_text("苹" * 40, font(30), 480).endswith("…")
    assert len(clean_text("苹" * 100)) == 40


@pytest.mark.parametrize("name", ["<script>alert(1)</script>", "🍎🍏👩‍🌾 emoji", "עברית ومرحبا", "\ud800 lone surrogate",
                                  "line\nbreak\ttab\x00nul\u202eRLO", "𠀀𪚥" * 30, "", " " * 50, "A" * 10000])
def test_any_text_renders_as_literal_pixels_without_crashing(name):
    frame, comp = composed(OverlayScene(product_name=name, price_fen=990, unit=name, origin=name,
                                        farmer_name=name, village=name, qr_text=name or None))
    for box in comp.boxes().values():
        assert 0 <= box.x and box.x + box.w <= W and 0 <= box.y and box.y + box.h <= H
    assert clean_text("<script>") == "<script>"


@pytest.mark.parametrize("portrait, size", [(False, (1280, 720)), (True, (720, 1280)), (True, (480, 854))])
def test_cards_stay_inside_the_safe_area_of_each_layout(portrait, size):
    w, h = size
    _, comp = composed(OverlayScene(**{**SCENE.__dict__, "countdown_ends_at": time.time() + 60}), w, h, portrait)
    safe = comp.layout.safe
    assert set(comp.boxes()) == {"host", "countdown", "product", "qr"}
    for box in comp.boxes().values():
        assert safe.x <= box.x and box.x + box.w <= safe.x + safe.w + 1
        assert safe.y <= box.y and box.y + box.h <= safe.y + safe.h + 1
    if portrait:  # clear of Douyin's comment stream and buttons
        assert max(b.y + b.h for b in comp.boxes().values()) <= 0.78 * h
        assert max(b.x + b.w for b in comp.boxes().values()) <= 0.84 * w
    boxes = list(comp.boxes().values())
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            assert a.x + a.w <= b.x or b.x + b.w <= a.x or a.y + a.h <= b.y or b.y + b.h <= a.y, (a, b)


def test_the_countdown_re_renders_once_per_second_not_per_frame():
    comp = Compositor(W, H)
    start = time.time()
    comp.set_scene(OverlayScene(product_name="苹果", countdown_ends_at=start + 3.5))
    renders = comp.renders
    changed = sum(comp.tick(start + i / 30) for i in range(int(4.5 * 30)))  # 4.5 s of frames
    assert changed == 4  # 3 → 2 → 1 → gone... 4 → 3 → 2 → 1 → off: one change per shown second
    assert comp.renders - renders == 3  # three new faces; the last change just removes the card
    assert "countdown" not in comp.boxes()


def test_a_product_switch_re_renders_only_the_cards_that_changed():
    comp = Compositor(W, H)
    first = comp.set_scene(SCENE)
    renders = comp.renders
    second = comp.set_scene(OverlayScene(**{**SCENE.__dict__, "product_name": "土鸡蛋", "price_fen": 1500}))
    assert second == first + 1 and comp.renders == renders + 1  # the QR and host cards are reused


def test_negative_money_is_refused():
    with pytest.raises(ValueError, match="price_fen"):
        OverlayScene(price_fen=-1)


@pytest.mark.parametrize("size", [(1280, 720), (640, 360), (720, 1280)])
def test_the_product_card_box_is_where_the_compositor_draws_the_card(size):
    from capture.overlay import product_card_box

    scene = OverlayScene(product_name="巨鹿小米", price_fen=1800, unit="斤", stock=20, link_no=3, origin="河北巨鹿")
    compositor = Compositor(*size, portrait=size[1] > size[0])
    compositor.set_scene(scene)
    assert product_card_box(scene, *size) == compositor.boxes()["product"]
    assert product_card_box(OverlayScene(), *size) is None
