"""Product photos: only real images, decoded by Pillow, re-encoded, stored under generated names.

For each upload three JPEG files are written once, under ``<data dir>/photos``:
``<stem>.jpg`` (the picture, at most 1600 px, EXIF orientation applied and EXIF dropped),
``<stem>_thumb.jpg`` (for lists) and ``<stem>_card.jpg`` (800×800, the square card platforms
show and the live overlay uses). The stem is random; nothing a person typed becomes a path.

Memory: a photo is decoded once, reduced at once to what the largest stored size needs (JPEGs
are decoded at a reduced scale by libjpeg), and freed before the next one is touched; a dry
run reads headers only (:func:`inspect_image`).
"""
from __future__ import annotations

import io
import math
import os
import re
import secrets
import threading
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from accounts.models import User
from catalog.errors import N_, ImportFileRejected, PhotoRejected
from catalog.models import Product, ProductPhoto
from catalog.services import require_manager

MAX_PHOTO_BYTES = 10 * 1024 * 1024
# A phone photo is 12–50 MP; more than this is a decompression bomb, refused before decoding.
MAX_PIXELS = 60_000_000
# One request (a catalog import with photos) may bring at most this many photos and pixels: a
# 60 MB upload of well-compressed PNGs could otherwise ask for tens of GB of decoding
# (issue 15: 16 photos of 7740×7740 took the server from 2.1 to 6.3 GB).
MAX_PHOTOS_PER_REQUEST = 60
MAX_PIXELS_PER_REQUEST = 600_000_000
ACCEPTED_FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "BMP")
FULL_SIZE = 1600
THUMB_SIZE = 240
CARD_SIZE = 800
KINDS = {"full": "{stem}.jpg", "thumb": "{stem}_thumb.jpg", "card": "{stem}_card.jpg"}
STEM_RE = re.compile(r"^[0-9a-f]{32}$")
# One photo is decoded at a time in this process, whichever request brings it: a decode of a 60 MP
# picture holds ~0.5 GB until its three files are written, and two at once on a village PC (2–4 GB)
# could starve the live broadcast. A request waits its turn this long, then is told to retry.
DECODE_TURN_TIMEOUT_S = 60.0
_decode_turn = threading.BoundedSemaphore(1)
ORIENTATION_TAG = 0x0112
# EXIF orientation → the transpose that makes the picture upright (as ImageOps.exif_transpose).
UPRIGHT = {
    2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180, 4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


@dataclass(frozen=True)
class PhotoFile:
    """An uploaded picture whose header was read and checked, not yet decoded."""

    data: bytes
    width: int
    height: int

    @property
    def pixels(self) -> int:
        return self.width * self.height


@dataclass(frozen=True)
class CheckedImage:
    """A decoded, upright RGB picture, already reduced to what the largest stored size needs;
    ``size`` is the upright size of the upload."""

    image: Image.Image
    size: tuple[int, int]


def photo_dir(data_dir: Path) -> Path:
    """Where photos live: ``<data dir>/photos``."""
    return Path(data_dir) / "photos"


def photo_path(data_dir: Path, stem: str, kind: str = "full") -> Path:
    """The file of one size of a stored photo. Raises ``ValueError`` for a bad stem or kind."""
    if not STEM_RE.match(stem) or kind not in KINDS:
        raise ValueError(f"no such photo file: {stem!r} {kind!r}")
    return photo_dir(data_dir) / KINDS[kind].format(stem=stem)


def card_path(data_dir: Path, product: Product) -> Path | None:
    """The square card image of the product's first photo, or None when it has no photo."""
    if not product.photos:
        return None
    path = photo_path(data_dir, product.photos[0].stem, "card")
    return path if path.exists() else None


_NOT_AN_IMAGE = N_("这不是能打开的图片，请选 JPG 或 PNG 照片")


def photo_too_large() -> PhotoRejected:
    """The error for a photo over :data:`MAX_PHOTO_BYTES` (here and where an upload is read)."""
    return PhotoRejected(N_("照片太大：最大 %(mb)d MB"), mb=MAX_PHOTO_BYTES // (1024 * 1024))


def _open(data: bytes) -> Image.Image:
    """Open ``data`` lazily (Pillow reads the header only). Raises :class:`PhotoRejected` for an
    empty or too large file, a format we do not take, or too many pixels."""
    if not data:
        raise PhotoRejected(N_("照片是空文件"))
    if len(data) > MAX_PHOTO_BYTES:
        raise photo_too_large()
    try:
        with warnings.catch_warnings():
            # Pillow only warns between MAX_IMAGE_PIXELS and twice that; refuse all of it.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image: Image.Image = Image.open(io.BytesIO(data), formats=ACCEPTED_FORMATS)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise PhotoRejected(N_("照片像素太多，请换一张")) from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise PhotoRejected(_NOT_AN_IMAGE) from exc
    width, height = image.size
    if width * height > MAX_PIXELS:
        image.close()
        raise PhotoRejected(N_("照片像素太多（%(width)d×%(height)d），请换一张"), width=width, height=height)
    return image


def inspect_image(data: bytes) -> PhotoFile:
    """Check ``data`` without decoding its pixels (what a dry run needs): the header, the pixel
    count, and for PNG every chunk's checksum. Raises :class:`PhotoRejected` like :func:`check_image`."""
    image = _open(data)
    try:
        width, height = image.size
        image.verify()
    except (OSError, SyntaxError, ValueError) as exc:
        raise PhotoRejected(_NOT_AN_IMAGE) from exc
    finally:
        image.close()
    return PhotoFile(data, width, height)


def _working_size(width: int, height: int) -> tuple[int, int]:
    """The smallest size from which every stored size can still be cut at full quality."""
    scale = max(FULL_SIZE / max(width, height), CARD_SIZE / min(width, height))
    if scale >= 1:
        return width, height
    return max(1, math.ceil(width * scale)), max(1, math.ceil(height * scale))


def check_image(data: bytes) -> CheckedImage:
    """Decode ``data``, reduce it to what the stored sizes need and make it upright RGB, with no
    metadata but its colour profile (an EXIF block, GPS position or GIF comment is not kept).

    The full-size decode is freed before this returns; JPEGs are decoded at a reduced scale
    straight away. Raises :class:`PhotoRejected` for an empty or too large file, anything Pillow
    cannot decode as JPEG/PNG/WebP/GIF/BMP (a script or a document renamed .jpg), a truncated
    image, or one with too many pixels (a decompression bomb).
    """
    image = _open(data)
    try:
        width, height = image.size
        orientation = image.getexif().get(ORIENTATION_TAG, 1)
        icc_profile = image.info.get("icc_profile")
        if image.format == "JPEG":
            image.draft("RGB", _working_size(width, height))
        image.load()
        if image.mode not in ("RGB", "RGBA", "L", "LA"):
            image = image.convert("RGBA" if "transparency" in image.info or image.mode == "PA" else "RGB")
        target = _working_size(*image.size)
        working = image.resize(target, Image.Resampling.LANCZOS) if target != image.size else image.copy()
    except PhotoRejected:
        raise
    except (OSError, SyntaxError, ValueError) as exc:
        raise PhotoRejected(_NOT_AN_IMAGE) from exc
    finally:
        image.close()
    upright = _flatten(working)
    if orientation in UPRIGHT:
        upright = upright.transpose(UPRIGHT[orientation])
        if orientation >= 5:
            width, height = height, width
    upright.info = {"icc_profile": icc_profile} if icc_profile else {}
    return CheckedImage(upright, (width, height))


def _flatten(image: Image.Image) -> Image.Image:
    """RGB on white: transparent PNGs would otherwise turn black in JPEG."""
    if image.mode in ("RGBA", "LA"):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image.convert("RGB")


def _write_jpeg(image: Image.Image, path: Path) -> None:
    """Write through a temporary name so that a reader never sees half a file. Only the pixels
    and the colour profile are written: no EXIF, no comment."""
    tmp = path.with_suffix(".part")
    image.save(tmp, "JPEG", quality=85, optimize=True, icc_profile=image.info.get("icc_profile"))
    tmp.chmod(0o600)  # served through the app only, like every data file
    os.replace(tmp, path)


def save_image(data_dir: Path, checked: CheckedImage) -> str:
    """Write the three sizes of a checked picture; returns the new stem."""
    folder = photo_dir(data_dir)
    folder.mkdir(parents=True, exist_ok=True)
    stem = secrets.token_hex(16)
    full = checked.image.copy()
    full.thumbnail((FULL_SIZE, FULL_SIZE), Image.Resampling.LANCZOS)
    _write_jpeg(full, photo_path(data_dir, stem, "full"))
    thumb = checked.image.copy()
    thumb.thumbnail((THUMB_SIZE, THUMB_SIZE), Image.Resampling.LANCZOS)
    _write_jpeg(thumb, photo_path(data_dir, stem, "thumb"))
    card = ImageOps.fit(checked.image, (CARD_SIZE, CARD_SIZE), Image.Resampling.LANCZOS)
    card.info = checked.image.info
    _write_jpeg(card, photo_path(data_dir, stem, "card"))
    return stem


def check_request_photos(count: int, total: int = 0) -> None:
    """Refuse a request of ``count`` photos with ``total`` pixels together when they are too many
    or too big to decode. Raises :class:`~catalog.errors.ImportFileRejected`.
    """
    if count > MAX_PHOTOS_PER_REQUEST:
        raise ImportFileRejected(N_("一次最多上传 %(count)d 张照片，请分几次导入"), count=MAX_PHOTOS_PER_REQUEST)
    if total > MAX_PIXELS_PER_REQUEST:
        raise ImportFileRejected(
            N_("这些照片一共 %(mp)d 百万像素，一次最多 %(limit)d 百万像素，请缩小照片或分几次导入"),
            mp=total // 1_000_000, limit=MAX_PIXELS_PER_REQUEST // 1_000_000,
        )


def add_photo(
    session: Session, data_dir: Path, product: Product, image: bytes | PhotoFile, actor: User
) -> ProductPhoto:
    """Decode, store and attach a photo to ``product``, after its others; the decoded picture is
    freed when this returns.

    Raises :class:`~catalog.errors.PhotoRejected` or :class:`~catalog.errors.NotAllowed`.
    Files are written before the caller commits; a rollback leaves unreferenced files, which
    :func:`remove_orphans` deletes.
    """
    require_manager(actor)
    if not _decode_turn.acquire(timeout=DECODE_TURN_TIMEOUT_S):
        raise PhotoRejected(N_("正在处理别的照片，请过一会儿再上传"))
    try:
        checked = check_image(image.data if isinstance(image, PhotoFile) else image)
        stem = save_image(data_dir, checked)
        size = checked.size
        del checked  # freed before the next photo's turn
    finally:
        _decode_turn.release()
    position = session.scalar(
        select(func.coalesce(func.max(ProductPhoto.position) + 1, 0)).where(ProductPhoto.product_id == product.id)
    )
    photo = ProductPhoto(product_id=product.id, stem=stem, width=size[0], height=size[1], position=position or 0)
    session.add(photo)
    session.flush()
    session.expire(product, ["photos"])
    return photo


def delete_photo(session: Session, data_dir: Path, photo: ProductPhoto, actor: User) -> None:
    """Remove a photo and its files. Raises :class:`~catalog.errors.NotAllowed`."""
    require_manager(actor)
    product = photo.product
    session.delete(photo)
    session.flush()
    session.expire(product, ["photos"])
    remove_files(data_dir, photo.stem)


def remove_files(data_dir: Path, stem: str) -> None:
    """Delete the files of one photo (missing files are fine)."""
    for kind in KINDS:
        photo_path(data_dir, stem, kind).unlink(missing_ok=True)


# A photo's files are written before its row is committed; files younger than this may belong to an
# upload still in flight, so the sweep leaves them for the next time.
ORPHAN_MIN_AGE_S = 600.0


def remove_orphans(session: Session, data_dir: Path, *, min_age_s: float = ORPHAN_MIN_AGE_S) -> int:
    """Delete photo files no database row refers to (left by rolled-back uploads); returns how many stems.

    Files modified in the last ``min_age_s`` seconds are kept, so that the sweep may run while the
    server takes uploads.
    """
    folder = photo_dir(data_dir)
    if not folder.is_dir():
        return 0
    newest: dict[str, float] = {}
    for path in folder.iterdir():
        stem = path.name[:32]
        if STEM_RE.match(stem):
            newest[stem] = max(newest.get(stem, 0.0), path.stat().st_mtime)
    known = set(session.scalars(select(ProductPhoto.stem)))
    settled = time.time() - min_age_s
    orphans = [stem for stem, mtime in newest.items() if stem not in known and mtime < settled]
    for stem in orphans:
        remove_files(data_dir, stem)
    return len(orphans)
