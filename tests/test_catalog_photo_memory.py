"""Photos cost memory for one picture at a time, never for a whole request (issue 15 #2), and keep
no metadata (issue 15 #10)."""
from __future__ import annotations

import gc
import io
import weakref

import pytest
from PIL import Image

from catalog import photos, spreadsheet
from catalog.errors import ImportFileRejected
from tests import factories

ROWS = [["编号", "名称", "农户", "单位", "单价", "库存"]] + [[f"P{i}", f"照片{i}", "grower", "斤", "1", "1"] for i in range(4)]


def png(size: tuple[int, int] = (400, 300)) -> bytes:
    out = io.BytesIO()
    Image.new("RGBA", size, (200, 120, 40, 255)).save(out, "PNG")
    return out.getvalue()


@pytest.fixture
def coord(session):
    factories.user(session, "farmer", "grower")
    return factories.user(session, "coordinator", "coord")


def test_a_dry_run_reads_photo_sizes_without_decoding_pixels(session, coord, tmp_path, monkeypatch):
    def no_decoding(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        raise AssertionError("a dry run decoded a photo")

    uploads = [(f"P{i}.png", png()) for i in range(4)]
    monkeypatch.setattr(Image.Image, "load", no_decoding)
    monkeypatch.setattr("PIL.ImageFile.ImageFile.load", no_decoding)
    report = spreadsheet.import_products(session, factories.catalog_csv(ROWS), coord, dry_run=True,
                                         data_dir=tmp_path, photos=uploads)
    assert report.photo_errors == [] and report.photos == 4


def test_an_import_decodes_saves_and_frees_one_photo_at_a_time(session, coord, tmp_path, monkeypatch):
    alive: list[weakref.ref] = []
    real_check = photos.check_image

    def watched(data: bytes):  # type: ignore[no-untyped-def]
        gc.collect()
        assert all(ref() is None for ref in alive), "an earlier photo was still decoded in memory"
        checked = real_check(data)
        alive.append(weakref.ref(checked.image))
        return checked

    monkeypatch.setattr(photos, "check_image", watched)
    report = spreadsheet.import_products(session, factories.catalog_csv(ROWS), coord, data_dir=tmp_path,
                                         photos=[(f"P{i}.png", png()) for i in range(4)])
    assert report.written and report.photos == 4 and len(alive) == 4


def test_a_decoded_photo_holds_only_the_pixels_the_stored_sizes_need():
    checked = photos.check_image(factories.image_bytes((4000, 3000)))
    assert checked.size == (4000, 3000), "the upload's size is still what the photo row records"
    assert checked.image.size == (1600, 1200)
    tall = photos.check_image(png((600, 3000)))
    assert tall.image.size == (600, 3000), "a narrow picture keeps what the 800 px square card needs"


def test_too_many_photos_or_pixels_in_one_request_are_refused(session, coord, tmp_path, monkeypatch):
    many = [(f"P{i % 4}.png", png((8, 8))) for i in range(photos.MAX_PHOTOS_PER_REQUEST + 1)]
    with pytest.raises(ImportFileRejected, match="一次最多上传"):
        spreadsheet.import_products(session, factories.catalog_csv(ROWS), coord, dry_run=True,
                                    data_dir=tmp_path, photos=many)
    monkeypatch.setattr(photos, "MAX_PIXELS_PER_REQUEST", 400 * 300 * 3)
    with pytest.raises(ImportFileRejected, match="百万像素"):
        spreadsheet.import_products(session, factories.catalog_csv(ROWS), coord, dry_run=True,
                                    data_dir=tmp_path, photos=[(f"P{i}.png", png()) for i in range(4)])


def test_the_api_answers_a_photo_bomb_with_400_and_the_reason(session, coord, api_as, monkeypatch):
    monkeypatch.setattr(photos, "MAX_PIXELS_PER_REQUEST", 1000)
    response = api_as(coord).post("/api/products/import?dry_run=1", content_type="multipart/form-data", data={
        "file": (io.BytesIO(factories.catalog_csv(ROWS)), "c.csv"),
        "photos": [(io.BytesIO(png()), "P0.png"), (io.BytesIO(png()), "P1.png")]})
    assert response.status_code == 400 and "百万像素" in response.json["error"]


def test_stored_photos_keep_no_comment_exif_or_gps(session, coord, tmp_path):
    farmer = factories.user(session, "farmer", "wang")
    product = factories.product(session, farmer, sku="A001")
    gif = io.BytesIO()
    Image.new("P", (60, 40), 3).save(gif, "GIF", comment=b"<script>alert(1)</script>")
    jpeg = io.BytesIO()
    exif = Image.Exif()
    exif[0x010F] = "EvilCam"  # Make
    exif[0x8825] = {2: (30.0, 15.0, 0.0)}  # GPS latitude: where the farm is
    Image.new("RGB", (60, 40), "green").save(jpeg, "JPEG", exif=exif.tobytes(), comment=b"<script>")
    for upload in (gif.getvalue(), jpeg.getvalue()):
        photo = photos.add_photo(session, tmp_path, product, upload, coord)
        for kind in photos.KINDS:
            path = photos.photo_path(tmp_path, photo.stem, kind)
            assert b"<script>" not in path.read_bytes() and b"EvilCam" not in path.read_bytes()
            with Image.open(path) as stored:
                assert not stored.getexif() and "comment" not in stored.info


def test_parallel_uploads_decode_one_photo_at_a_time(app, session, coord, monkeypatch):
    import threading
    import time
    from concurrent.futures import ThreadPoolExecutor

    farmer = factories.user(session, "farmer", "wang")
    products = [factories.product(session, farmer).id for _ in range(4)]
    busy, most = [0], [0]
    lock = threading.Lock()
    real_check = photos.check_image

    def slow(data: bytes):  # type: ignore[no-untyped-def]
        with lock:
            busy[0] += 1
            most[0] = max(most[0], busy[0])
        time.sleep(0.05)
        try:
            return real_check(data)
        finally:
            with lock:
                busy[0] -= 1

    monkeypatch.setattr(photos, "check_image", slow)
    from catalog.models import Product

    def upload(product_id: int) -> None:
        with app.extensions["cunbo.sessions"]() as s:
            photos.add_photo(s, app.config["DATA_DIR"], s.get(Product, product_id), png(), s.merge(coord))
            s.commit()

    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(upload, products, timeout=60))
    assert most[0] == 1
