"""Which catalog product is the host holding up? Classical features against the whole catalog.

No Flask, no database, no model download: ORB keypoints from the catalog photos (computed once per
photo change and kept in a :class:`FeatureCache`), one matcher over every product's descriptors at
once, and per check:

1. each frame descriptor's nearest neighbour over the whole catalog (an approximate index,
   :class:`HammingIndex`, built once per catalog change), and the nearest one that belongs to a
   *different* product: a match counts only if it clearly beats every other product
   (ratio test across products — a texture that two labels share votes for neither);
2. votes per photo; the best few photos get a geometric check: the frame is matched again against
   that photo alone (nearest vs. second nearest in the photo, so features the label shares with
   other products count again) and ``findHomography`` RANSAC runs on those pairs. It returns a
   matrix even when the object is absent, so what counts is the number of inliers, and the
   projected photo outline must be a plausible box (convex, a sane share of the frame, not a
   sliver, not mirrored);
3. the best photo must beat the runner-up product clearly: inliers of its own, not counting the
   frame points that the runner-up explains as well (a look-alike label shares the name), and
4. :class:`Recognizer` reports a product only after it won several consecutive checks.

Why not product by product: matching one product at a time lets a wrong product gather 15–26 RANSAC
inliers from a cluttered frame (issue 14); here only the few photos the whole-catalog vote picked are
verified, and the winner must have twice the inliers of the runner-up product (each counting only
what the other does not explain). Why re-match for the
check: with 100 look-alike labels the cross-product ratio test leaves the right photo too few pairs
for a homography (recall per appearance fell to 0.75 in bench/recognition.py), while the re-match
keeps the right product's inliers where they are with a small catalog.
"""
from __future__ import annotations

import ctypes
import logging
import multiprocessing
import os
import queue
import secrets
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from multiprocessing import shared_memory
from multiprocessing.process import BaseProcess
from multiprocessing.queues import Queue
from pathlib import Path

import cv2
import numpy as np

from capture.process import pid_alive

log = logging.getLogger(__name__)

PHOTO_SIDE = 400          # catalog photos are downscaled so their longer side is this many pixels
PHOTO_FEATURES = 500      # ORB keypoints kept per photo
FRAME_SIDE = 640          # frames are checked at this longer side
FRAME_FEATURES = 1000     # 1500 found nothing more on the test video, at 1.5× the time
RATIO = 0.8               # nearest neighbour vs. the nearest one of another product (the vote)
VERIFY_RATIO = 0.75       # nearest vs. second nearest within one photo (the geometric check)
MAX_HAMMING = 64          # a descriptor farther than this from everything is noise
MIN_VOTES = 10            # fewer ratio-test survivors than this: not worth a homography
LSH_TABLES = 16           # hash tables of the catalog index (HammingIndex)
LSH_BITS = 24             # descriptor bits per key
LSH_BUCKET_CAP = 64       # keys shared by more catalog descriptors than this are left out
CANDIDATES = 3            # photos that get a geometric check per frame
RANSAC_PX = 6.0
# Measured on tests/recognition_video.py (bench/recognition.py prints the distribution): a catalog
# product on screen gathers 28–270 inliers (the low end: small, blurred and half covered), the best
# wrong product, in empty and unknown-product stretches too, at most 23. 40 is about twice the worst
# wrong product: a check or two of a hard view is missed, which the next checks make up for, while
# a wrong price on screen would be worse than none. A look-alike (another product with the same
# name on a different label, in the 100-product bench) can pass 40 too: LEAD is what stops it.
MIN_INLIERS = 40
LEAD = 2.0                # the winner needs this many times the runner-up product's own inliers
MIN_AREA = 0.004          # the projected box covers at least this share of the frame …
MAX_AREA = 0.9            # … and at most this
MAX_ASPECT_CHANGE = 4.0   # the box's side ratio may differ from the photo's by at most this factor
CONFIRM = 2               # consecutive winning checks before a product is reported
RELEASE = 3               # consecutive checks without it before it is no longer reported


@dataclass(frozen=True)
class PhotoFeatures:
    """ORB keypoints of one photo, in the downscaled photo's pixels."""

    points: np.ndarray        # (n, 2) float32
    descriptors: np.ndarray   # (n, 32) uint8
    size: tuple[int, int]     # (width, height) of the downscaled photo


@dataclass(frozen=True)
class Match:
    """One check's verdict on one product: where it is and how sure."""

    product_id: int
    inliers: int
    runner_up: int            # inliers of the best other product (0 if none was checked)
    box: tuple[tuple[float, float], ...]  # the photo's corners in the frame, as shares of width/height

    @property
    def score(self) -> float:
        """0–1: how far past the threshold, with a clear lead (for the console, not a decision)."""
        margin = self.inliers - max(self.runner_up * LEAD, MIN_INLIERS)
        return round(min(1.0, 0.5 + margin / (2.0 * MIN_INLIERS)), 2)

    @property
    def centre(self) -> tuple[float, float]:
        """The box centre as shares of the frame (x, y), for centring a 9:16 clip on it."""
        xs = [p[0] for p in self.box]
        ys = [p[1] for p in self.box]
        return round(sum(xs) / len(xs), 4), round(sum(ys) / len(ys), 4)


def _orb(features: int) -> cv2.ORB:
    return cv2.ORB_create(  # type: ignore[attr-defined]  # not in OpenCV 5's stubs
        nfeatures=features, scaleFactor=1.2, nlevels=8, fastThreshold=12)


def _downscale(gray: np.ndarray, side: int) -> tuple[np.ndarray, float]:
    h, w = gray.shape[:2]
    scale = min(1.0, side / max(h, w))
    if scale < 1.0:
        gray = cv2.resize(gray, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
    return gray, scale


def photo_features(path: Path) -> PhotoFeatures | None:
    """Features of one catalog photo; None when it cannot be read or has almost no texture."""
    gray = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if gray is None:
        log.warning("recognition: cannot read photo %s", path)
        return None
    gray, _ = _downscale(gray, PHOTO_SIDE)
    keypoints, descriptors = _orb(PHOTO_FEATURES).detectAndCompute(gray, None)
    if descriptors is None or len(keypoints) < MIN_VOTES:
        return None
    points = np.array([k.pt for k in keypoints], dtype=np.float32)
    return PhotoFeatures(points, descriptors, (gray.shape[1], gray.shape[0]))


class FeatureCache:
    """Photo features kept between catalog updates. A photo's entry is keyed by its path, size and
    modification time, so a replaced photo is recomputed and an unchanged one never is."""

    def __init__(self) -> None:
        self._entries: dict[tuple[str, int, int], PhotoFeatures | None] = {}
        self._lock = threading.Lock()
        self.computed = 0  # photos whose features were computed (tests check the cache works)

    def get(self, path: Path) -> PhotoFeatures | None:
        try:
            st = os.stat(path)
        except OSError:
            return None
        key = (str(path), st.st_size, st.st_mtime_ns)
        with self._lock:
            if key in self._entries:
                return self._entries[key]
        features = photo_features(path)
        with self._lock:
            for old in [k for k in self._entries if k[0] == key[0]]:
                del self._entries[old]
            self._entries[key] = features
            self.computed += 1
        return features


@dataclass
class _Photo:
    product_id: int
    features: PhotoFeatures
    corners: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        w, h = self.features.size
        self.corners = np.array([[[0, 0]], [[w, 0]], [[w, h]], [[0, h]]], dtype=np.float32)


class HammingIndex:
    """Approximate nearest neighbours of binary descriptors: multi-table LSH on sampled bits,
    searched with numpy in one pass for every frame descriptor at once.

    Each of :data:`LSH_TABLES` tables keys a descriptor by :data:`LSH_BITS` of its 256 bits (a
    fixed random choice per table); a frame descriptor's candidates are the catalog descriptors
    sharing its key in any table, and their exact Hamming distances decide. A pair at distance
    20 agrees on a given 24-bit key with probability ~0.14, so 16 tables find it 9 times in 10
    (at distance 30 about half the time). That is enough: the index only picks the few photos
    worth a geometric check, which re-matches against the photo exhaustively. Keys that more
    than :data:`LSH_BUCKET_CAP` catalog descriptors share (flat label areas, the same small print
    on every product) are left out: like stop words they cost time and tell products apart no
    better than chance. 16-bit keys found the same matches with 4–10 times the candidates.

    Why not OpenCV's FLANN LSH: on 250k ORB descriptors of the bench catalog it took 0.6–5.5 s
    per frame (bucket sizes grow with the catalog's repeated textures), its hierarchical index
    found the true nearest neighbour for only a third of the queries, and brute force is ~13 ns
    per pair on this PC (1000 × 250k pairs: over 3 s)."""

    def __init__(self, descriptors: np.ndarray, seed: int = 14) -> None:
        self.size = len(descriptors)
        self._words = np.ascontiguousarray(descriptors).view(np.uint64)  # (n, 4)
        rng = np.random.default_rng(seed)
        self._bits = [np.sort(rng.choice(256, LSH_BITS, replace=False)) for _ in range(LSH_TABLES)]
        self._weights = 1 << np.arange(LSH_BITS, dtype=np.int64)
        # All tables in one sorted array, table t's keys offset by t << LSH_BITS: one
        # searchsorted per check instead of one per table.
        keys, order = np.empty(0, np.int64), np.empty(0, np.int64)
        if self.size:
            table_keys = self._keys(descriptors).ravel()  # table-major
            by = np.argsort(table_keys, kind="stable")
            keys, order = table_keys[by], by % self.size
            starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
            counts = np.diff(np.r_[starts, len(keys)])
            keep = np.repeat(counts <= LSH_BUCKET_CAP, counts)
            keys, order = keys[keep], order[keep]
        self._sorted_keys, self._order = keys, order

    def _keys(self, descriptors: np.ndarray) -> np.ndarray:
        """(tables, n) keys, each table's offset by its number so that tables never share a key."""
        unpacked = np.unpackbits(descriptors, axis=1, bitorder="little")
        return np.stack([(unpacked[:, bits].astype(np.int64) @ self._weights) + (t << LSH_BITS)
                         for t, bits in enumerate(self._bits)])

    def candidates(self, descriptors: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(query index, catalog index, Hamming distance) of the candidate pairs within
        :data:`MAX_HAMMING` (a pair may repeat), sorted by query and then distance."""
        qkeys = self._keys(descriptors).ravel()
        lo = np.searchsorted(self._sorted_keys, qkeys, "left")
        n = np.searchsorted(self._sorted_keys, qkeys, "right") - lo
        total = int(n.sum())
        if total == 0:
            empty = np.empty(0, np.int64)
            return empty, empty, empty
        first = np.cumsum(n) - n
        # A pair found by several tables stays duplicated: sorting it out costs more than the
        # repeats, and the nearest and the runner-up distances per query come out the same.
        q = np.repeat(np.arange(len(qkeys)) % len(descriptors), n)
        d = self._order[np.arange(total) - np.repeat(first - lo, n)]
        qwords = np.ascontiguousarray(descriptors).view(np.uint64)
        dist = np.bitwise_count(qwords[q] ^ self._words[d]).sum(axis=1, dtype=np.int64)
        near = dist <= MAX_HAMMING
        q, d, dist = q[near], d[near], dist[near]
        by = np.lexsort((dist, q))
        return q[by], d[by], dist[by]


class CatalogIndex:
    """One approximate index over every photo of every product (:class:`HammingIndex`), built
    once per catalog change by :meth:`build`; it is read-only afterwards, so one index may serve
    checks while a new one is being built."""

    def __init__(self, photos: list[_Photo]) -> None:
        self.photos = photos
        self.products = len({p.product_id for p in photos})
        if photos:
            descriptors = np.vstack([p.features.descriptors for p in photos])
            self._photo_of = np.concatenate([np.full(len(p.features.descriptors), i, np.int64)
                                             for i, p in enumerate(photos)])
            self._product_of = np.array([p.product_id for p in photos], dtype=np.int64)[self._photo_of]
            self._index = HammingIndex(descriptors)
        self._matcher = cv2.BFMatcher(cv2.NORM_HAMMING)
        self._orb = _orb(FRAME_FEATURES)

    def votes(self, descriptors: np.ndarray) -> np.ndarray:
        """Votes per photo: each frame descriptor whose nearest catalog descriptor beats the
        nearest one of any other product by :data:`RATIO` votes for the photo it came from (no
        other product among the candidates: the other product is taken to be at MAX_HAMMING)."""
        q, d, dist = self._index.candidates(descriptors)
        counts = np.zeros(len(self.photos), np.int64)
        if len(q) == 0:
            return counts
        starts = np.flatnonzero(np.r_[True, q[1:] != q[:-1]])
        group = np.cumsum(np.r_[True, q[1:] != q[:-1]]) - 1
        best_d, best_dist = d[starts], dist[starts]
        product = self._product_of[d]
        other = np.where(product != product[starts][group], dist, MAX_HAMMING + 1)
        runner_up = np.minimum.reduceat(other, starts)
        won = best_dist < RATIO * np.minimum(runner_up, MAX_HAMMING + 1)
        return np.bincount(self._photo_of[best_d[won]], minlength=len(self.photos))

    @classmethod
    def build(cls, catalog: Mapping[int, Sequence[str | Path]], cache: FeatureCache | None = None) -> CatalogIndex:
        """An index over ``catalog`` (product id → photo paths). Unreadable or textureless photos
        are left out (logged); a product with none of its photos usable cannot be recognised."""
        cache = cache or FeatureCache()
        photos: list[_Photo] = []
        for product_id, paths in catalog.items():
            for path in paths:
                features = cache.get(Path(path))
                if features is not None:
                    photos.append(_Photo(int(product_id), features))
        return cls(photos)

    def check(self, gray: np.ndarray) -> tuple[Match | None, list[tuple[int, int]]]:
        """One frame (grayscale, any size): the accepted match or None, and the (product id,
        inliers) of every product that got a geometric check, best first (for tuning)."""
        if not self.photos:
            return None, []
        small, scale = _downscale(gray, FRAME_SIDE)
        keypoints, descriptors = self._orb.detectAndCompute(small, None)
        if descriptors is None or len(keypoints) < MIN_VOTES:
            return None, []
        frame_pts = np.array([k.pt for k in keypoints], dtype=np.float32)
        votes = self.votes(descriptors)
        best = np.argsort(votes)[::-1][:CANDIDATES]
        ranked = [(int(i), int(votes[i])) for i in best]
        checked: dict[int, tuple[frozenset[int], np.ndarray | None]] = {}
        for photo_index, count in ranked:
            if count < MIN_VOTES:
                break
            photo = self.photos[photo_index]
            pairs = [(m[0].queryIdx, m[0].trainIdx)
                     for m in self._matcher.knnMatch(descriptors, photo.features.descriptors, k=2)
                     if len(m) == 2 and m[0].distance < VERIFY_RATIO * m[1].distance]
            if len(pairs) < MIN_VOTES:
                continue
            inliers, box = self._verify(photo, pairs, frame_pts, small.shape)
            if photo.product_id not in checked or len(inliers) > len(checked[photo.product_id][0]):
                checked[photo.product_id] = (inliers, box)
        order = sorted(checked.items(), key=lambda kv: len(kv[1][0]), reverse=True)
        summary = [(pid, len(n)) for pid, (n, _) in order]
        if not order:
            return None, summary
        product_id, (inliers, box) = order[0]
        # The lead is judged on evidence of its own: a look-alike label (the same name, another
        # design) gathers inliers on the shared name, which are the winner's inliers too and
        # explain nothing the winner does not. Frame points both products claim count for neither.
        runner_up = max((len(other - inliers) for _, (other, _) in order[1:]), default=0)
        if box is None or len(inliers) < MIN_INLIERS or len(inliers - _claimed(order[1:])) < LEAD * runner_up:
            return None, summary
        h, w = small.shape[:2]
        shares = tuple((round(float(x) / w, 4), round(float(y) / h, 4)) for x, y in box.reshape(4, 2))
        return Match(product_id, len(inliers), runner_up, shares), summary

    @staticmethod
    def _verify(photo: _Photo, pairs: list[tuple[int, int]], frame_pts: np.ndarray,
                shape: tuple[int, ...]) -> tuple[frozenset[int], np.ndarray | None]:
        """The frame keypoints that are RANSAC inliers of the photo→frame homography, and the
        projected box if it is plausible."""
        src = photo.features.points[[t for _, t in pairs]].reshape(-1, 1, 2)
        dst = frame_pts[[q for q, _ in pairs]].reshape(-1, 1, 2)
        matrix, mask = cv2.findHomography(src, dst, cv2.RANSAC, RANSAC_PX, maxIters=500, confidence=0.99)
        if matrix is None or mask is None:
            return frozenset(), None
        # Several photo keypoints matched to one frame point are one piece of evidence, not many.
        inliers = frozenset(pairs[i][0] for i in np.flatnonzero(mask.ravel()))
        box = cv2.perspectiveTransform(photo.corners, matrix)
        return inliers, box if _plausible(box, photo.features.size, shape) else None


def _claimed(others: Sequence[tuple[int, tuple[frozenset[int], np.ndarray | None]]]) -> frozenset[int]:
    """Frame points that any of the other checked products has among its inliers."""
    return frozenset().union(*(inliers for _, (inliers, _) in others))


def _plausible(box: np.ndarray, photo_size: tuple[int, int], shape: tuple[int, ...]) -> bool:
    """Convex, not mirrored, a sane share of the frame, sides not squashed beyond belief."""
    quad = box.reshape(4, 2).astype(np.float64)
    if not np.all(np.isfinite(quad)) or not cv2.isContourConvex(quad.astype(np.float32).reshape(-1, 1, 2)):
        return False
    x, y = quad[:, 0], quad[:, 1]
    signed = 0.5 * float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1)))
    if signed <= 0:  # the photo's corners run clockwise in image coordinates: a mirror image
        return False
    h, w = shape[:2]
    if not MIN_AREA <= signed / (w * h) <= MAX_AREA:
        return False
    sides = np.linalg.norm(quad - np.roll(quad, -1, axis=0), axis=1)
    if sides.min() < 0.15 * sides.max():
        return False
    width = (sides[0] + sides[2]) / 2
    height = (sides[1] + sides[3]) / 2
    change = (width / height) / (photo_size[0] / photo_size[1])
    return bool(1 / MAX_ASPECT_CHANGE <= change <= MAX_ASPECT_CHANGE)


class Recognizer:
    """Per-check verdicts smoothed over time: a product is reported after it won ``confirm``
    consecutive checks, and dropped after ``release`` consecutive checks without it. A different
    product winning starts its own count and counts as a miss for the reported one, so a switch
    always needs the new product confirmed."""

    def __init__(self, index: CatalogIndex, confirm: int = CONFIRM, release: int = RELEASE) -> None:
        self.index = index
        self.confirm, self.release = confirm, release
        self.current: Match | None = None
        self._streak: tuple[int, int] | None = None  # (product id, consecutive wins)
        self._misses = 0
        self.last_check: list[tuple[int, int]] = []

    def feed(self, gray: np.ndarray) -> Match | None:
        """Check one frame; the product reported now (None: nothing sure)."""
        match, self.last_check = self.index.check(gray)
        if match is None:
            self._streak = None
            self._misses += 1
            if self.current is not None and self._misses >= self.release:
                self.current = None
            return self.current
        wins = self._streak[1] + 1 if self._streak and self._streak[0] == match.product_id else 1
        self._streak = (match.product_id, wins)
        if self.current is not None and self.current.product_id == match.product_id:
            self.current, self._misses = match, 0  # fresher box and score
        elif wins >= self.confirm:
            self.current, self._misses = match, 0
        elif self.current is not None:
            # Another product's first win is a miss for the one reported, not yet a switch.
            self._misses += 1
            if self._misses >= self.release:
                self.current = None
        return self.current


def vote_summary(checks: Sequence[Match | None]) -> Counter[int]:
    """How many checks each product won (for benches and logs)."""
    return Counter(m.product_id for m in checks if m is not None)


# -- the recognition process ----------------------------------------------------------------------
#
# The checks run in a process of their own, not on a thread of the broadcast worker: a thread shares
# the worker's GIL with the 30 fps frame loop, and in bench/recognition.py's 20 s at 720p30 on a
# loaded 2-core box the pipeline dropped 81 frames with the check thread on (2 with it off). The
# worker hands the process the newest source frame, downscaled first, in a shared memory block;
# the catalog by a queue when it changes; results come back by another queue.

# The process's niceness (POSIX; below-normal priority class on Windows): a late check costs a
# moment, a late frame is a drop.
CHECK_NICENESS = 10
CHECK_INTERVAL_S = 0.25  # four checks a second: a product is confirmed ~0.5 s after it appears
FEED_SHARE = 0.5         # the worker publishes a frame every FEED_SHARE × interval
PARENT_POLL_S = 0.25     # the process notices within this long that the worker has gone
TERMINATE_WAIT_S = 0.2   # after stop's own timeout: SIGTERM, this long, then SIGKILL, this long
FEED_JOIN_S = 0.5
BLOCK_PREFIX = "cunbo-rec-"  # frame blocks are named BLOCK_PREFIX<worker pid>-<random>
SHM_DIR = Path("/dev/shm")   # where POSIX shared memory blocks show up as files (Linux)
_HEADER = 16                 # sequence number (uint64), height and width (uint32 each)
_CAPACITY = FRAME_SIDE * FRAME_SIDE
FrameSource = Callable[[], np.ndarray | None]  # a grayscale frame, or None when there is none


class FrameBlock:
    """The newest downscaled grayscale frame in a ``multiprocessing.shared_memory`` block, with a
    sequence number that is odd while the frame is being written (a seqlock: one writer, readers
    copy and retry when the number moved under them, so nobody ever waits on a lock that a killed
    process might hold). The worker creates and unlinks it; the recognition process attaches."""

    def __init__(self, shm: shared_memory.SharedMemory) -> None:
        self._shm = shm
        self.name = shm.name
        self._seq = np.ndarray((1,), np.uint64, buffer=shm.buf, offset=0)
        self._shape = np.ndarray((2,), np.uint32, buffer=shm.buf, offset=8)
        self._data = np.ndarray((_CAPACITY,), np.uint8, buffer=shm.buf, offset=_HEADER)

    @classmethod
    def create(cls) -> FrameBlock:
        """A new zeroed block named after this process (so a sweep knows whose it was). Raises
        OSError when the system refuses shared memory."""
        name = f"{BLOCK_PREFIX}{os.getpid()}-{secrets.token_hex(4)}"
        return cls(shared_memory.SharedMemory(name, create=True, size=_HEADER + _CAPACITY))

    @classmethod
    def attach(cls, name: str) -> FrameBlock:
        """The block ``name`` made by :meth:`create`. Raises FileNotFoundError when it is gone."""
        return cls(shared_memory.SharedMemory(name))

    def write(self, gray: np.ndarray) -> int:
        """Publish a frame of at most FRAME_SIDE × FRAME_SIDE pixels; its sequence number."""
        height, width = gray.shape[:2]
        if height * width > _CAPACITY:
            raise ValueError(f"frame {width}×{height} is larger than the block")
        seq = int(self._seq[0])
        self._seq[0] = seq + 1
        self._shape[:] = (height, width)
        self._data[: height * width] = np.ascontiguousarray(gray).reshape(-1)
        self._seq[0] = seq + 2
        return seq + 2

    def read(self) -> tuple[int, np.ndarray | None]:
        """(sequence number, a copy of the newest frame); (0, None) before the first frame, and
        (-1, None) if every attempt met a write in progress."""
        for _ in range(8):
            seq = int(self._seq[0])
            if seq == 0:
                return 0, None
            if seq % 2:
                continue
            height, width = (int(v) for v in self._shape)
            frame = self._data[: height * width].copy()
            if int(self._seq[0]) == seq:
                return seq, frame.reshape(height, width)
        return -1, None

    def close(self) -> None:
        """Unmap (the views go first: a mapping with live views cannot be closed)."""
        del self._seq, self._shape, self._data
        try:
            self._shm.close()
        except BufferError:  # a copy of a view still referenced somewhere: unmapped at exit
            log.warning("frame block %s still in use; unmapped at exit", self.name)

    def unlink(self) -> None:
        """Remove the block's name (memory goes with the last mapping); gone already is fine."""
        try:
            self._shm.unlink()
        except FileNotFoundError:
            pass
        except OSError as exc:  # the resource tracker has gone with a killed worker: the name is removed first
            log.info("frame block %s unlinked; tracker not told: %s", self.name, exc)


def remove_frame_blocks(pid: int | None = None) -> list[str]:
    """Unlink the frame blocks left by worker ``pid`` (None: by any process that is gone), e.g.
    after its whole process group was killed and nobody was left to unlink them. POSIX blocks
    show up in /dev/shm on Linux; on Windows a block ends with its last handle, nothing is left.
    Returns the names removed."""
    if not SHM_DIR.is_dir():
        return []
    removed = []
    for path in SHM_DIR.glob(f"{BLOCK_PREFIX}{'' if pid is None else pid}*-*"):
        owner = path.name[len(BLOCK_PREFIX):].split("-", 1)[0]
        if not owner.isdigit() or (pid is None and pid_alive(int(owner))) or (pid is not None and int(owner) != pid):
            continue
        try:
            path.unlink()
            removed.append(path.name)
        except FileNotFoundError:
            pass
        except OSError as exc:
            log.warning("cannot remove frame block %s: %s", path.name, exc)
    return removed


SEMAPHORE_GLOB = "sem.mp-*"  # multiprocessing's named semaphores (its queues' locks) on Linux
STALE_SEMAPHORE_AGE_S = 60.0  # younger ones may belong to a process that is just starting


def remove_stale_semaphores(min_age_s: float = STALE_SEMAPHORE_AGE_S) -> list[str]:
    """Unlink this user's multiprocessing semaphores that no process has open any more.

    A spawned process's queues use named semaphores; their names are unlinked by
    multiprocessing's resource tracker, which dies with the rest of a worker's process group
    when that is killed with ``kill -9``, so the names stayed in /dev/shm. A semaphore in use is
    mapped by every process that opened it; glibc maps it under a temporary name, so it is known
    by its inode in /proc/<pid>/maps. Nothing to do off Linux. Returns the names removed."""
    proc = Path("/proc")
    if not SHM_DIR.is_dir() or not proc.is_dir():
        return []
    now, uid = time.time(), os.getuid()
    candidates = {}
    for path in SHM_DIR.glob(SEMAPHORE_GLOB):
        try:
            info = path.stat()
        except OSError:
            continue
        if info.st_uid == uid and now - info.st_mtime >= min_age_s:
            candidates[info.st_ino] = path
    if not candidates:
        return []
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            with open(entry / "maps", encoding="ascii", errors="replace") as maps:
                for line in maps:
                    fields = line.split(maxsplit=5)
                    if len(fields) == 6 and fields[5].startswith(str(SHM_DIR) + "/"):
                        candidates.pop(int(fields[4]), None)
        except (OSError, ValueError):  # gone meanwhile, or not ours to read
            continue
    removed = []
    for path in candidates.values():
        try:
            path.unlink()
            removed.append(path.name)
        except OSError as exc:
            log.debug("cannot remove semaphore %s: %s", path.name, exc)
    if removed:
        log.info("removed %d semaphore(s) left by killed processes", len(removed))
    return removed


def remove_group_leftovers(pid: int) -> None:
    """What a worker's process group killed as one leaves behind: its frame blocks (nobody was
    left to unlink them) and its queues' semaphores (its resource tracker died with it; the group
    is dead, so no age is needed to tell them from ones being made)."""
    remove_frame_blocks(pid)
    remove_stale_semaphores(min_age_s=0.0)


def _lower_priority(niceness: int) -> None:
    """The whole process at a lower CPU priority than the frame loop."""
    if hasattr(os, "nice"):
        try:
            os.nice(niceness)
        except OSError as exc:
            log.info("recognition runs at normal priority: %s", exc)
    elif sys.platform == "win32":
        kernel32 = getattr(ctypes, "windll").kernel32
        kernel32.SetPriorityClass(kernel32.GetCurrentProcess(), 0x4000)  # BELOW_NORMAL_PRIORITY_CLASS


def _serve(block_name: str, commands: Queue, results: Queue, interval: float, niceness: int) -> None:
    """The recognition process: check the newest frame of the block every ``interval`` seconds,
    rebuild the index when a catalog arrives (features from this process's cache unless a photo
    changed), put each check's (seconds, Match | None) on ``results``; end on ("stop",) or when
    the worker has gone (then unlink the block: nobody else is left to)."""
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(name)s[recognition] %(levelname)s %(message)s")
    _lower_priority(niceness)
    results.cancel_join_thread()  # a full pipe must never keep this process from ending
    parent = multiprocessing.parent_process()
    block = FrameBlock.attach(block_name)
    cache = FeatureCache()
    recognizer: Recognizer | None = None
    catalog: dict[int, list[str]] | None = None
    last_seq, next_check = 0, 0.0
    try:
        while True:
            wait = PARENT_POLL_S if recognizer is None else min(PARENT_POLL_S, max(0.0, next_check - time.monotonic()))
            try:
                message = commands.get(timeout=wait) if wait > 0 else commands.get_nowait()
                while True:  # the newest catalog wins; a stop ends the loop
                    if message[0] == "stop":
                        return
                    if message[0] == "catalog":
                        catalog = message[1]
                    message = commands.get_nowait()
            except queue.Empty:
                pass
            if parent is not None and not parent.is_alive():
                log.warning("the worker has gone; recognition ends")
                block.unlink()
                return
            if catalog is not None:
                recognizer = Recognizer(CatalogIndex.build(catalog, cache))
                results.put(("catalog", recognizer.index.products, cache.computed))
                catalog = None
                continue  # building may have taken a while: look at the queue before a frame
            if recognizer is None or time.monotonic() < next_check:
                continue
            seq, frame = block.read()
            if frame is None or seq == last_seq:
                next_check = time.monotonic() + interval * FEED_SHARE / 2  # no new frame yet
                continue
            last_seq, next_check = seq, time.monotonic() + interval
            started = time.perf_counter()
            try:
                match = recognizer.feed(frame)
            except cv2.error:
                log.warning("recognition check failed", exc_info=True)
                match = None
            results.put(("check", time.perf_counter() - started, match))
    finally:
        block.close()


@dataclass
class _Process:
    """One recognition process and what the worker keeps for it."""

    process: BaseProcess
    block: FrameBlock
    commands: Queue
    results: Queue
    stop: threading.Event = field(default_factory=threading.Event)
    feed: threading.Thread | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    retired: bool = False


class RecognitionLoop:
    """The recognizer in a process of its own (multiprocessing "spawn", at :data:`CHECK_NICENESS`)
    between :meth:`start` and :meth:`stop`: a check every ``interval`` seconds on the newest source
    frame, which a feed thread of this process downscales and publishes in a :class:`FrameBlock`
    (it also polls the results queue, without blocking). The catalog may change any time; the
    process rebuilds its index, with photo features from its own cache unless a photo changed.

    A process that ends unasked (a crash, a kill) is reported by :attr:`crashed` (its exit code)
    and can be started again. The block is unlinked by this side on stop and when the process
    died; by the process when this one died; by :func:`remove_frame_blocks` when both were killed."""

    def __init__(self, frames: FrameSource, interval: float = CHECK_INTERVAL_S,
                 niceness: int = CHECK_NICENESS) -> None:
        self._frames = frames
        self._interval = interval
        self._niceness = niceness
        self._context = multiprocessing.get_context("spawn")
        self._lock = threading.Lock()  # start, stop and catalog changes, one at a time
        self._catalog: dict[int, list[str]] = {}
        self._child: _Process | None = None
        self.current: Match | None = None
        self.checks = 0
        self.check_s = 0.0  # seconds spent checking, as the process measured (per check = check_s / checks)
        self.products = 0   # products in the process's index (0 until it is built)
        self.crashed: int | None = None  # exit code of the last process that ended unasked

    @property
    def running(self) -> bool:
        child = self._child
        return child is not None and not child.retired and child.process.is_alive()

    @property
    def pid(self) -> int | None:
        child = self._child
        return child.process.pid if child is not None and not child.retired else None

    def set_catalog(self, catalog: Mapping[int, Sequence[str]]) -> None:
        """Products to look for (id → photo paths); a changed catalog takes effect once the process
        has rebuilt its index. The same catalog sent again changes nothing (a photo replaced in
        place is a new file name: a new catalog)."""
        new = {int(k): [str(p) for p in v] for k, v in catalog.items()}
        with self._lock:
            if new == self._catalog:
                return
            self._catalog = new
            if self._child is not None and not self._child.retired:
                self._child.commands.put(("catalog", new))

    def start(self) -> None:
        """Start the process (it returns at once; the first check follows the index build). A
        crashed process is cleaned up and replaced. Raises OSError when no process or no shared
        memory can be had."""
        with self._lock:
            if self.running:
                return
            old, self._child = self._child, None
            if old is not None:
                self._end(old, 0.0)
            remove_frame_blocks()  # of workers killed with their process group
            remove_stale_semaphores()
            block = FrameBlock.create()
            commands, results = self._context.Queue(), self._context.Queue()
            commands.cancel_join_thread()  # never wait at exit to feed a process that is gone
            process = self._context.Process(
                target=_serve, args=(block.name, commands, results, self._interval, self._niceness),
                name="cunbo-recognition", daemon=True)
            child = _Process(process, block, commands, results)
            try:
                process.start()
            except BaseException:
                child.retired = True
                block.unlink()
                block.close()
                raise
            if self._catalog:
                commands.put(("catalog", self._catalog))
            self.current, self.crashed, self.products = None, None, 0
            child.feed = threading.Thread(target=self._feed, args=(child,), name="cunbo-recognition-feed", daemon=True)
            self._child = child
            child.feed.start()

    def stop(self, timeout: float = 2.0) -> None:
        """Stop checking: the process ends after its current check, is terminated after ``timeout``
        and killed TERMINATE_WAIT_S later; the block is unlinked. Waits at most
        ``timeout`` + 2 × TERMINATE_WAIT_S + FEED_JOIN_S."""
        with self._lock:
            child, self._child = self._child, None
            if child is not None:
                self._end(child, timeout)
            self.current = None

    def status(self) -> dict[str, object] | None:
        """What is recognised now, JSON-ready: product id, score, box centre and inliers, or None."""
        match = self.current
        if match is None or not self.running:
            return None
        return {"product_id": match.product_id, "score": match.score, "position": list(match.centre),
                "inliers": match.inliers}

    def _end(self, child: _Process, timeout: float) -> None:
        child.stop.set()
        if not child.retired:
            try:
                child.commands.put(("stop",))
            except (ValueError, OSError):  # closed already
                pass
            child.process.join(timeout)
            for signal_it in (child.process.terminate, child.process.kill):
                if child.process.exitcode is not None:
                    break
                signal_it()
                child.process.join(TERMINATE_WAIT_S)
            if child.process.exitcode is None:
                log.error("recognition process %s did not end when killed", child.process.pid)
        if child.feed is not None and child.feed is not threading.current_thread():
            child.feed.join(FEED_JOIN_S)
        self._retire(child, closing=child.feed is None or not child.feed.is_alive())

    def _retire(self, child: _Process, closing: bool) -> None:
        """Unlink the block and let the queues go (once per process)."""
        with child.lock:
            if child.retired:
                return
            child.retired = True
        child.block.unlink()
        if closing:  # only once the feed thread no longer writes into it
            child.block.close()
        for q in (child.commands, child.results):
            q.close()

    def _feed(self, child: _Process) -> None:
        """In this process: every FEED_SHARE × interval, the newest frame downscaled into the block
        and the results taken off their queue; a process found dead is reported and retired."""
        while not child.stop.wait(self._interval * FEED_SHARE):
            if not child.process.is_alive():
                if not child.stop.is_set():
                    self.crashed, self.current = child.process.exitcode, None
                    log.error("recognition process ended unasked (exit code %s)", self.crashed)
                    self._retire(child, closing=True)
                return
            frame = self._frames()
            if frame is not None:
                child.block.write(_downscale(frame, FRAME_SIDE)[0])
            self._take_results(child)

    def _take_results(self, child: _Process) -> None:
        for _ in range(64):
            try:
                message = child.results.get_nowait()
            except (queue.Empty, OSError, ValueError):
                return
            if message[0] == "check":
                self.check_s += float(message[1])
                self.checks += 1
                if not child.stop.is_set():
                    self.current = message[2]
            elif message[0] == "catalog":
                self.products, self.current = int(message[1]), None
