"""A test video for product recognition, drawn by the test itself (no downloads).

Catalog "products" are labels drawn with Pillow: each its own colours, shapes, stripes and Chinese
text. Their catalog photos are the labels photographed on a table (a margin, a slight tilt, JPEG).
The video pans over a cluttered background (shapes and Chinese text, so there is texture for
features to latch onto) and shows, stretch by stretch: nothing, a catalog product, a product that is
not in the catalog, products back to back. Each appearance moves, turns, tilts in perspective,
scales, is partly covered by a hand and is lit brighter or darker. The ground truth says which
product is on screen in every frame.
"""
from __future__ import annotations

import math
import random
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from capture.overlay import font_path
from capture.recognition import Recognizer

NAMES = ["槐花蜂蜜", "土鸡蛋", "黑木耳", "小米", "核桃", "红枣", "香菇", "腊肉", "菜籽油", "苹果干",
         "玉米糁", "花椒", "绿豆", "糯米", "山楂片", "土豆粉"]
UNKNOWN_NAME = "手工挂面"
FILLER = "村播直播带货助农农家自产新鲜山货包邮优选好物产地直发现摘现发绿色"
LABEL_SIZE = (300, 400)


@dataclass(frozen=True)
class Stretch:
    """``product`` is an index into the catalog products, -1 for the unknown product, None for none."""

    product: int | None
    seconds: float


# The script of the video: empty stretches, every catalog product at least once, the unknown
# product twice, two back-to-back switches.
SCRIPT = [
    Stretch(None, 2.0), Stretch(0, 3.0), Stretch(None, 2.0), Stretch(1, 3.0), Stretch(-1, 3.0),
    Stretch(2, 3.0), Stretch(None, 1.5), Stretch(3, 3.0), Stretch(4, 3.0), Stretch(None, 2.0),
    Stretch(-1, 2.5), Stretch(5, 3.0), Stretch(6, 3.0), Stretch(None, 2.0), Stretch(7, 3.0),
    Stretch(None, 2.0),
]
CATALOG_PRODUCTS = 8


def _font(size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(font_path(), size)


def draw_label(name: str, seed: int, size: tuple[int, int] = LABEL_SIZE) -> np.ndarray:
    """A product label (BGR): its own background, shapes, stripes, name and small print."""
    rng = random.Random(seed)
    w, h = size
    base = tuple(rng.randrange(40, 220) for _ in range(3))
    img = Image.new("RGB", size, base)  # type: ignore[arg-type]
    draw = ImageDraw.Draw(img)
    for _ in range(14):
        colour = tuple(rng.randrange(0, 256) for _ in range(3))
        x, y, r = rng.randrange(w), rng.randrange(h), rng.randrange(10, 60)
        shape = rng.randrange(3)
        if shape == 0:
            draw.ellipse((x - r, y - r, x + r, y + r), fill=colour, outline=(0, 0, 0), width=2)  # type: ignore[arg-type]
        elif shape == 1:
            pts = [(x + rng.randrange(-r, r), y + rng.randrange(-r, r)) for _ in range(rng.randrange(3, 6))]
            draw.polygon(pts, fill=colour, outline=(255, 255, 255))  # type: ignore[arg-type]
        else:
            draw.line((x, y, x + rng.randrange(-120, 120), y + rng.randrange(-120, 120)), fill=colour, width=rng.randrange(2, 7))  # type: ignore[arg-type]
    band_y = rng.randrange(110, 200)
    draw.rectangle((0, band_y, w, band_y + 90), fill=(250, 245, 230), outline=(20, 20, 20), width=3)
    draw.text((w // 2, band_y + 45), name, font=_font(56 if len(name) <= 3 else 48), fill=(160, 20, 20), anchor="mm")
    small = _font(18)
    for row in range(4):
        text = "".join(rng.choice(FILLER) for _ in range(12))
        draw.text((14, 300 + row * 22), text, font=small, fill=(0, 0, 0) if sum(base) > 380 else (255, 255, 255))
    x = 16
    while x < w - 16:  # a barcode-like strip, different per product
        bar = rng.randrange(2, 7)
        draw.rectangle((x, 20, x + bar, 70), fill=(0, 0, 0))
        x += bar + rng.randrange(2, 8)
    return cv2.cvtColor(np.asarray(img), cv2.COLOR_RGB2BGR)


def catalog_photo(label: np.ndarray, seed: int) -> np.ndarray:
    """The label as the coordinator photographed it: on a table, a margin, slightly turned."""
    rng = random.Random(seed)
    h, w = label.shape[:2]
    canvas = np.full((h + 120, w + 120, 3), (rng.randrange(150, 210),) * 3, np.uint8)
    angle = rng.uniform(-6, 6)
    m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    m[:, 2] += 60
    cv2.warpAffine(label, m, (canvas.shape[1], canvas.shape[0]), dst=canvas, borderMode=cv2.BORDER_TRANSPARENT)
    return canvas


def write_catalog(folder: Path, products: int = CATALOG_PRODUCTS, first_seed: int = 100) -> dict[int, list[str]]:
    """Catalog photos for ``products`` products (JPEG files in ``folder``): product id → paths.
    Ids count from 1; product ``i`` of :data:`SCRIPT` has id ``i + 1``."""
    folder.mkdir(parents=True, exist_ok=True)
    catalog: dict[int, list[str]] = {}
    for i in range(products):
        name = NAMES[i % len(NAMES)] + ("" if i < len(NAMES) else str(i))
        label = draw_label(name, first_seed + i)
        path = folder / f"product-{i + 1}.jpg"
        cv2.imwrite(str(path), catalog_photo(label, first_seed + 1000 + i), [cv2.IMWRITE_JPEG_QUALITY, 85])
        catalog[i + 1] = [str(path)]
    return catalog


def _background(width: int, height: int, seed: int) -> np.ndarray:
    """A cluttered scene twice the frame size, to pan across."""
    rng = random.Random(seed)
    w, h = width * 2, height * 2
    ramp = np.linspace(60, 160, w, dtype=np.float32)
    img = Image.fromarray(np.dstack([np.tile(ramp, (h, 1))] * 3).astype(np.uint8))
    draw = ImageDraw.Draw(img)
    for _ in range(160):
        colour = tuple(rng.randrange(0, 256) for _ in range(3))
        x, y = rng.randrange(w), rng.randrange(h)
        kind = rng.randrange(4)
        if kind == 0:
            draw.rectangle((x, y, x + rng.randrange(20, 160), y + rng.randrange(20, 120)), fill=colour)  # type: ignore[arg-type]
        elif kind == 1:
            r = rng.randrange(8, 50)
            draw.ellipse((x - r, y - r, x + r, y + r), outline=colour, width=3)  # type: ignore[arg-type]
        elif kind == 2:
            draw.line((x, y, x + rng.randrange(-200, 200), y + rng.randrange(-200, 200)), fill=colour, width=3)  # type: ignore[arg-type]
        else:
            text = "".join(rng.choice(FILLER) for _ in range(rng.randrange(2, 7)))
            draw.text((x, y), text, font=_font(rng.randrange(16, 40)), fill=colour)  # type: ignore[arg-type]
    return cv2.cvtColor(np.asarray(img), cv2.COLOR_RGB2BGR)


def _paste(frame: np.ndarray, label: np.ndarray, t: float, seed: int) -> None:
    """Paste ``label`` into ``frame`` as it would look ``t`` seconds into its appearance."""
    rng = random.Random(seed)
    fh, fw = frame.shape[:2]
    lh, lw = label.shape[:2]
    scale = fh * (rng.uniform(0.32, 0.72) + 0.06 * math.sin(t * 1.3)) / lh
    angle = math.radians(rng.uniform(-20, 20) + 12 * math.sin(t * 0.9 + seed))
    cx = fw * (0.5 + rng.uniform(-0.18, 0.18) + 0.08 * math.sin(t * 0.7))
    cy = fh * (0.5 + rng.uniform(-0.06, 0.06) + 0.04 * math.cos(t * 1.1))
    tilt = rng.uniform(0.05, 0.22) * math.sin(t * 0.8 + seed)  # perspective: one side nearer
    corners = []
    for x, y in ((-lw / 2, -lh / 2), (lw / 2, -lh / 2), (lw / 2, lh / 2), (-lw / 2, lh / 2)):
        depth = 1 + tilt * (1 if x > 0 else -1)
        px, py = x * scale * depth, y * scale * depth
        corners.append((cx + px * math.cos(angle) - py * math.sin(angle),
                        cy + px * math.sin(angle) + py * math.cos(angle)))
    src = np.array([(0, 0), (lw, 0), (lw, lh), (0, lh)], np.float32)
    matrix = cv2.getPerspectiveTransform(src, np.array(corners, np.float32))
    gain = rng.uniform(0.6, 1.3)
    lit = cv2.convertScaleAbs(label, alpha=gain, beta=rng.uniform(-20, 25))
    warped = cv2.warpPerspective(lit, matrix, (fw, fh))
    mask = cv2.warpPerspective(np.full((lh, lw), 255, np.uint8), matrix, (fw, fh))
    frame[mask > 127] = warped[mask > 127]
    # A hand holding it covers a corner part of the time.
    if math.sin(t * 1.7 + seed) > -0.3:
        hx = int(corners[3][0] + (corners[2][0] - corners[3][0]) * 0.25)
        hy = int(corners[3][1] - lh * scale * 0.18)
        axes = (int(lw * scale * 0.3), int(lh * scale * 0.16))
        cv2.ellipse(frame, (hx, hy), axes, math.degrees(angle), 0, 360, (120, 160, 215), -1)


def render(path: Path, size: tuple[int, int] = (960, 540), fps: int = 12, seed: int = 7,
           script: list[Stretch] = SCRIPT, first_seed: int = 100) -> list[int | None]:
    """Write the video (MJPG in .avi, readable by cv2.VideoCapture) and return per frame the
    product id on screen: catalog ids from 1, -1 for the unknown product, None for none."""
    width, height = size
    background = _background(width, height, seed)
    labels = {i: draw_label(NAMES[i % len(NAMES)], first_seed + i) for i in range(CATALOG_PRODUCTS)}
    labels[-1] = draw_label(UNKNOWN_NAME, 999)
    fourcc = cv2.VideoWriter_fourcc(*"MJPG")  # type: ignore[attr-defined]  # not in the stubs
    writer = cv2.VideoWriter(str(path), fourcc, fps, (width, height))
    if not writer.isOpened():
        raise RuntimeError(f"cannot write {path}")
    truth: list[int | None] = []
    frame_no = 0
    rng = np.random.default_rng(seed)
    try:
        for n, stretch in enumerate(script):
            for k in range(round(stretch.seconds * fps)):
                t_video = frame_no / fps
                ox = int((width / 2) * (0.5 + 0.5 * math.sin(t_video * 0.35)))
                oy = int((height / 2) * (0.5 + 0.5 * math.sin(t_video * 0.23 + 1)))
                frame = background[oy:oy + height, ox:ox + width].copy()
                if stretch.product is not None:
                    _paste(frame, labels[stretch.product], k / fps, seed * 100 + n)
                if n % 3 == 1:  # a shaky hand: some stretches are soft
                    frame = cv2.GaussianBlur(frame, (5, 5), 1.2)
                noise = rng.integers(-8, 9, frame.shape, dtype=np.int16)  # sensor noise
                frame = np.clip(frame.astype(np.int16) + noise, 0, 255).astype(np.uint8)
                writer.write(frame)
                truth.append(None if stretch.product is None else (-1 if stretch.product < 0 else stretch.product + 1))
                frame_no += 1
    finally:
        writer.release()
    return truth


def appearances(truth: list[int | None]) -> list[tuple[int, int, int]]:
    """(product id, first frame, end frame) of each stretch that shows a product (-1 included)."""
    spans: list[tuple[int, int, int]] = []
    start = 0
    for i in range(1, len(truth) + 1):
        if i == len(truth) or truth[i] != truth[start]:
            if truth[start] is not None:
                spans.append((int(truth[start]), start, i))  # type: ignore[arg-type]
            start = i
    return spans


@dataclass(frozen=True)
class Outcome:
    """What a recognizer reported over the video, checked at ``checks_per_s`` in video time."""

    found_after_s: dict[int, float | None]   # appearance index → seconds until its product was reported
    wrong: list[tuple[float, int, int | None]]  # (time, reported, on screen) for each wrong switch
    switches: int
    check_s: list[float]                      # wall time of each check
    inliers_true: list[int]                   # inliers of the product on screen, when it was checked
    inliers_false: list[int]                  # best wrong product's inliers in each check


def evaluate(video: Path, truth: list[int | None], recognizer: Recognizer, fps: int = 12,
             checks_per_s: float = 4.0) -> Outcome:
    """Feed every ``fps / checks_per_s``-th frame (grayscale) to ``recognizer`` and score it."""
    import time

    cap = cv2.VideoCapture(str(video))
    step = max(1, round(fps / checks_per_s))
    spans = appearances(truth)
    found: dict[int, float | None] = {i: None for i, span in enumerate(spans) if span[0] > 0}
    wrong: list[tuple[float, int, int | None]] = []
    check_s: list[float] = []
    inliers_true: list[int] = []
    inliers_false: list[int] = []
    reported: int | None = None
    switches = 0
    frame_no = 0
    try:
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            if frame_no % step == 0:
                gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
                started = time.perf_counter()
                match = recognizer.feed(gray)
                check_s.append(time.perf_counter() - started)
                on_screen = truth[frame_no]
                for pid, n in recognizer.last_check:
                    (inliers_true if pid == on_screen else inliers_false).append(n)
                now = match.product_id if match else None
                if now is not None and now != reported:
                    switches += 1
                    # Still showing the product that just left is no switch; only a change counts.
                    if now != on_screen:
                        wrong.append((frame_no / fps, now, on_screen))
                reported = now
                for i, (pid, start, end) in enumerate(spans):
                    if i in found and found[i] is None and start <= frame_no < end and now == pid:
                        found[i] = (frame_no - start) / fps
            frame_no += 1
    finally:
        cap.release()
    return Outcome(found, wrong, switches, check_s, inliers_true, inliers_false)
