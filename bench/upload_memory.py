"""Memory and time of hostile uploads (issue 15 #2 and #3), each in a fresh process.

    .venv/bin/python -m bench.upload_memory [photos-dry-run|photos-import|photo-upload|workbook ...]

photos-*: a catalog import with 16 photos, each a 7740×7740 RGBA PNG (just under the pixel limit,
about 240 KB on disk); ``photos-dry-run-uncapped`` and ``photos-import`` lift the per-request pixel
cap, so that the photos are really read (and, for the import, decoded and stored). photo-upload: one such PNG on one product. workbook: an .xlsx of a few
hundred KB that unpacks to nearly 200 MB, sent to the catalog, orders and tracking imports.
Prints the peak resident memory of the process above what it held before the request, and the time.
"""
from __future__ import annotations

import io
import os
import resource
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SIDE = 7740
PHOTOS = 16
CACHE = Path(tempfile.gettempdir()) / f"cunbo-bench-{SIDE}.png"


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def big_png() -> bytes:
    """The PNG of the issue's reproduction, made once in a child process (it costs memory itself)."""
    if not CACHE.exists():
        subprocess.run([sys.executable, "-c", (
            "from PIL import Image; import sys; "
            f"Image.new('RGBA', ({SIDE}, {SIDE}), (200, 120, 40, 255)).save(sys.argv[1], 'PNG', optimize=True)"
        ), str(CACHE)], check=True, timeout=600)
    return CACHE.read_bytes()


def cached_bomb_workbook() -> bytes:
    """:func:`bomb_workbook`, made once by a child process so that its cost is not measured."""
    path = Path(tempfile.gettempdir()) / "cunbo-bench-bomb.xlsx"
    if not path.exists():
        code = "import sys; from tests.factories import bomb_workbook; open(sys.argv[1], 'wb').write(bomb_workbook())"
        subprocess.run([sys.executable, "-c", code, str(path)], cwd=ROOT, check=True, timeout=600)
    return path.read_bytes()


def run(scenario: str) -> None:
    """One scenario in this process; prints its figures."""
    import db
    from app import create_app
    from app.config import TestConfig
    from catalog import photos as photo_store
    from tests import factories

    work = Path(tempfile.mkdtemp(prefix="cunbo-bench-"))
    url = f"sqlite:///{work / 'cunbo.db'}"
    db.upgrade(url)
    app = create_app(TestConfig(work / "data", url))
    with app.extensions["cunbo.sessions"]() as session:
        coordinator = factories.user(session, "coordinator", "coord")
        farmer = factories.user(session, "farmer", "wang")
        product = factories.product(session, farmer, sku="P000")
        partner = factories.user(session, "partner", "coop")
        order = factories.order(session, product)
        handoff = factories.handoff(session, [order], coordinator, partner)
        headers = {"Authorization": f"Bearer {factories.token_for(session, coordinator)}"}
        partner_headers = {"Authorization": f"Bearer {factories.token_for(session, partner)}"}
        handoff_id, product_id = handoff.id, product.id
    client = app.test_client()
    requests: list[tuple[str, str, dict[str, object], dict[str, str]]] = []
    if scenario.startswith("photos"):
        png = big_png()
        rows = [["编号", "名称", "单位", "单价", "库存"]] + [[f"P{i:03d}", f"照片{i}", "斤", "1", "1"] for i in range(PHOTOS)]
        form = {"file": (io.BytesIO(factories.catalog_csv(rows)), "c.csv"),
                "photos": [(io.BytesIO(png), f"P{i:03d}.png") for i in range(PHOTOS)]}
        if scenario in ("photos-import", "photos-dry-run-uncapped"):
            photo_store.MAX_PIXELS_PER_REQUEST = 10**12  # decode and store all 16, to see one-at-a-time
        query = "?dry_run=1" if scenario.startswith("photos-dry-run") else ""
        requests.append((scenario, f"/api/products/import{query}", form, headers))
    elif scenario == "photo-upload":
        requests.append((scenario, f"/api/products/{product_id}/photos",
                         {"photo": (io.BytesIO(big_png()), "big.png")}, headers))
    else:
        book = cached_bomb_workbook()
        print(f"workbook: {len(book) / 1024:.0f} KB packed, "
              f"{sum(i.file_size for i in zipfile.ZipFile(io.BytesIO(book)).infolist()) / 2**20:.0f} MB unpacked")
        for name, path, extra, who in (
            ("catalog", "/api/products/import?dry_run=1", {}, headers),
            ("orders", "/api/orders/import?dry_run=1", {"channel": "taobao"}, headers),
            ("tracking", f"/api/handoffs/{handoff_id}/tracking?dry_run=1", {}, partner_headers),
        ):
            requests.append((f"workbook {name}", path, {"file": (io.BytesIO(book), "b.xlsx"), **extra}, who))
    for label, path, form, who in requests:
        before = _rss_mb()
        started = time.perf_counter()
        response = client.post(path, data=form, headers=who, content_type="multipart/form-data")
        elapsed = time.perf_counter() - started
        answer = response.get_json(silent=True) or {}
        message = str(answer.get("error") or answer.get("photo_errors") or "")[:90]
        print(f"{label}: HTTP {response.status_code} in {elapsed:.2f} s, RSS before {before:.0f} MB, "
              f"peak {_peak_mb():.0f} MB (+{_peak_mb() - before:.0f} MB) {message}")
    os.environ.pop("CUNBO_SECRET_KEY", None)


def main() -> None:
    scenarios = sys.argv[1:] or ["photos-dry-run", "photos-dry-run-uncapped", "photos-import", "photo-upload",
                                 "workbook"]
    for scenario in scenarios:
        subprocess.run([sys.executable, "-m", "bench.upload_memory", "--one", scenario], cwd=ROOT, check=False,
                       timeout=1200)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--one"]:
        run(sys.argv[2])
    else:
        main()
