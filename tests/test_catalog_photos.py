"""Photos: only real images, upright, three generated files under the data dir."""
from __future__ import annotations

import io
import os
import time

import pytest
from PIL import Image

from app.catalog import sweep_photo_files
from catalog import photos
from catalog.errors import NotAllowed, PhotoRejected
from tests import factories


def picture(path):
    """A stored file, decoded and closed again."""
    with Image.open(path) as image:
        image.load()
        return image.copy()


@pytest.fixture
def setup(session, tmp_path):
    coord = factories.user(session, "coordinator", "zhang")
    farmer = factories.user(session, "farmer", "wang")
    product = factories.product(session, farmer, sku="A001")
    return coord, farmer, product, tmp_path / "data"


def test_a_photo_is_stored_as_picture_thumbnail_and_square_card(session, setup):
    coord, _, product, data_dir = setup
    photo = photos.add_photo(session, data_dir, product, factories.image_bytes((1200, 800)), coord)
    session.commit()
    assert len(photo.stem) == 32 and (photo.width, photo.height) == (1200, 800)
    files = sorted(p.name for p in (data_dir / "photos").iterdir())
    assert files == sorted([f"{photo.stem}.jpg", f"{photo.stem}_thumb.jpg", f"{photo.stem}_card.jpg"])
    assert picture(photos.photo_path(data_dir, photo.stem, "card")).size == (800, 800)
    assert max(picture(photos.photo_path(data_dir, photo.stem, "thumb")).size) == 240
    assert photos.card_path(data_dir, product) == photos.photo_path(data_dir, photo.stem, "card")


def test_exif_orientation_is_applied(session, setup):
    coord, _, product, data_dir = setup
    # Orientation 6: the camera was turned; the picture must be shown rotated (portrait).
    photo = photos.add_photo(session, data_dir, product, factories.image_bytes((300, 200), exif_orientation=6), coord)
    with Image.open(photos.photo_path(data_dir, photo.stem, "full")) as full:
        assert full.size == (200, 300)
        assert full.getexif().get(0x0112) is None


def test_transparent_png_becomes_white_not_black(session, setup):
    coord, _, product, data_dir = setup
    image = Image.new("RGBA", (50, 50), (0, 0, 0, 0))
    out = io.BytesIO()
    image.save(out, "PNG")
    photo = photos.add_photo(session, data_dir, product, out.getvalue(), coord)
    assert picture(photos.photo_path(data_dir, photo.stem, "full")).getpixel((25, 25))[0] > 240


@pytest.mark.parametrize(
    "data, reason",
    [
        (b"#!/bin/sh\nrm -rf /\n", "不是能打开的图片"),
        (b"<script>alert(1)</script>", "不是能打开的图片"),
        (b"%PDF-1.4\n1 0 obj", "不是能打开的图片"),
        (b"", "空文件"),
        (factories.image_bytes()[:200], "不是能打开的图片"),  # a truncated JPEG
    ],
)
def test_files_that_are_not_images_are_refused(session, setup, data, reason):
    coord, _, product, data_dir = setup
    with pytest.raises(PhotoRejected, match=reason):
        photos.add_photo(session, data_dir, product, data, coord)
    assert not (data_dir / "photos").exists() or not any((data_dir / "photos").iterdir())


def test_decompression_bomb_is_refused_before_decoding(session, setup):
    coord, _, product, data_dir = setup
    out = io.BytesIO()
    Image.new("1", (12000, 12000)).save(out, "PNG")  # 144 MP of nothing: tiny file, huge in memory
    assert len(out.getvalue()) < 1_000_000
    with pytest.raises(PhotoRejected, match="像素太多"):
        photos.add_photo(session, data_dir, product, out.getvalue(), coord)


def test_too_large_file_is_refused(session, setup):
    coord, _, product, data_dir = setup
    with pytest.raises(PhotoRejected, match="太大"):
        photos.check_image(b"\xff\xd8" + b"0" * (photos.MAX_PHOTO_BYTES + 1))


def test_farmers_cannot_add_photos(session, setup):
    _, farmer, product, data_dir = setup
    with pytest.raises(NotAllowed):
        photos.add_photo(session, data_dir, product, factories.image_bytes(), farmer)


def test_photo_paths_never_come_from_user_text(tmp_path):
    for bad in ("../../etc/passwd", "a" * 32 + "/x", "A" * 32):
        with pytest.raises(ValueError):
            photos.photo_path(tmp_path, bad, "full")
    with pytest.raises(ValueError):
        photos.photo_path(tmp_path, "a" * 32, "../x")


def test_deleting_a_photo_removes_its_files_and_orphans_are_swept(session, setup):
    coord, _, product, data_dir = setup
    kept = photos.add_photo(session, data_dir, product, factories.image_bytes(), coord)
    gone = photos.add_photo(session, data_dir, product, factories.image_bytes(), coord)
    session.commit()
    photos.delete_photo(session, data_dir, gone, coord)
    session.commit()
    assert not photos.photo_path(data_dir, gone.stem, "card").exists()
    orphan = photos.save_image(data_dir, photos.check_image(factories.image_bytes()))  # as a rolled-back upload
    in_flight = photos.save_image(data_dir, photos.check_image(factories.image_bytes()))  # not committed yet
    an_hour_ago = time.time() - 3600
    for kind in photos.KINDS:
        for stem in (orphan, kept.stem):
            os.utime(photos.photo_path(data_dir, stem, kind), (an_hour_ago, an_hour_ago))
    assert photos.remove_orphans(session, data_dir) == 1
    assert not photos.photo_path(data_dir, orphan, "full").exists()
    assert photos.photo_path(data_dir, kept.stem, "full").exists()
    assert photos.photo_path(data_dir, in_flight, "full").exists(), "a recent file may be an upload in flight"
    assert photos.remove_orphans(session, data_dir, min_age_s=0) == 1


def test_the_server_sweeps_orphan_photo_files_at_start(app, tmp_path):
    data_dir = app.config["DATA_DIR"]
    orphan = photos.save_image(data_dir, photos.check_image(factories.image_bytes()))
    for kind in photos.KINDS:
        path = photos.photo_path(data_dir, orphan, kind)
        os.utime(path, (path.stat().st_mtime - 3600,) * 2)
    assert sweep_photo_files(app) == 1
    assert not any(photos.photo_path(data_dir, orphan, kind).exists() for kind in photos.KINDS)
