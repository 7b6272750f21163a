"""The live API with the real pipeline: a generated video file through cv2.VideoCapture, real
ffmpeg, a real nginx-rtmp; the session record keeps the product timeline and its orders."""
from __future__ import annotations

import time
from pathlib import Path

import pytest

from capture.testing import ffprobe, grab_frame
from tests import factories
from tests.live_helpers import shows_scene, wait_until

BLUE_GREY_BGR = (0x99, 0x66, 0x33)  # the flat_video colour 0x336699 as OpenCV's BGR


@pytest.fixture
def farmer(session):
    return factories.user(session, "farmer", "wang", display_name="王大姐", village="西王庄")


@pytest.fixture
def api(api_as, farmer):
    return api_as(farmer)


def start_body(video: Path, **kw):
    return {"video": str(video), "audio": "none", "destinations": [], "preset": "480p30", **kw}


def order_body(product_id, quantity=1, **kw):
    return {"product_id": product_id, "quantity": quantity, "buyer_name": "李四", "buyer_phone": "13800138000",
            "address": "河北省邢台市巨鹿县", "channel": "douyin", **kw}


def test_go_live_show_products_take_an_order_and_stop(app, api, session, farmer, flat_video, rtmp_server):
    millet = factories.product(session, farmer, name="巨鹿小米", price_fen=1800, stock=50, link_no=1)
    honey = factories.product(session, farmer, name="槐花蜂蜜", price_fen=4500, stock=20, link_no=2)
    response = api.post("/api/live/start", json=start_body(flat_video, destinations=[rtmp_server.url("wang-secret-key")]))
    assert response.status_code == 201, response.json
    session_id = response.json["session_id"]
    assert wait_until(lambda: api.get("/api/live/status").json["state"] == "live")

    assert api.post("/api/live/show", json={"product_id": millet.id}).status_code == 200
    time.sleep(1.0)
    assert api.post("/api/live/show", json={"product_id": honey.id}).status_code == 200
    ordered = api.post("/api/orders", json=order_body(honey.id, 2, session_id=session_id))
    assert ordered.status_code == 201

    # The card follows the order by itself, a moment after its commit (the order never waits).
    assert wait_until(lambda: api.get("/api/live/status").json["product"] == {"id": honey.id, "stock": 18}, timeout=1)
    status = api.get("/api/live/status").json
    assert status["session_id"] == session_id and status["product_id"] == honey.id
    assert (status["orders"], status["gmv_fen"]) == (1, 9000)
    # Zero drops is measured by bench.pipeline. The worker's first seconds are at the mercy of
    # whatever else the PC does (18 of ~60 frames dropped once in CI, 89 of 137 another time, 0 in
    # every run beside two CPU hogs), so what this test holds to is that frames go out and keep
    # going out at no less than half the rate once the broadcast runs.
    assert status["frames_out"] > 30
    time.sleep(1.0)
    assert api.get("/api/live/status").json["frames_out"] - status["frames_out"] >= 15
    assert "wang-secret-key" not in str(status), "stream keys never appear in status"
    assert status["destinations"][0]["url"].startswith(f"rtmp://127.0.0.1:{rtmp_server.port}/live/")
    assert wait_until(lambda: api.get("/api/live/status").json["destinations"][0]["state"] == "live")

    stopped = api.post("/api/live/stop").json
    assert stopped["session_id"] == session_id and stopped["duration_s"] > 1
    recording = Path(stopped["recording"])
    assert recording.is_file()
    streams = {s["codec_type"]: s for s in ffprobe(recording)["streams"]}
    assert streams["video"]["codec_name"] == "h264" and streams["audio"]["codec_name"] == "aac"

    record = api.get(f"/api/sessions/{session_id}").json
    assert record["ended_at"] and record["recording"] == str(recording)
    assert [s["product_id"] for s in record["segments"]] == [millet.id, honey.id]
    first, second = record["segments"]
    assert first["start_s"] < first["end_s"] <= second["start_s"] < second["end_s"]
    assert (record["orders"], record["gmv_fen"]) == (1, 9000)
    assert api.get("/api/live/status").json["state"] == "idle"


def test_the_push_is_live_within_2_s_and_opens_without_the_reconnect_slate(app, api, flat_video, rtmp_server):
    took = []
    for attempt in range(2):  # the better of two starts: a busy test machine can stall one
        started = time.monotonic()
        body = start_body(flat_video, destinations=[rtmp_server.url(f"fast{attempt}")])
        assert api.post("/api/live/start", json=body).status_code == 201
        assert wait_until(lambda: api.get("/api/live/status").json["destinations"][0]["state"] == "live",
                          interval=0.05)
        took.append(time.monotonic() - started)
        time.sleep(1.0)
        status = api.get("/api/live/status").json
        assert status["frames_out"] > 30 and status["slate_frames"] == 0, "nothing was lost, so no 画面中断 frame"
        api.post("/api/live/stop")
    assert min(took) <= 2.0, f"the platform got the stream {took} s after 开始直播"


def test_selling_out_reaches_the_pushed_video(app, api, session, farmer, flat_video, rtmp_server):
    honey = factories.product(session, farmer, name="槐花蜂蜜", price_fen=4500, stock=3, link_no=2, origin="河北巨鹿")
    api.post("/api/live/start", json=start_body(flat_video, destinations=[rtmp_server.url("k")]))
    api.post("/api/live/show", json={"product_id": honey.id})
    live = app.extensions["cunbo.live"]
    in_stock = live.scene
    assert in_stock.stock == 3
    assert api.post("/api/orders", json=order_body(honey.id, 3)).status_code == 201
    assert wait_until(lambda: live.scene.stock == 0, timeout=1.0), "the order reached the overlay by itself"
    sold_out = live.scene
    assert wait_until(lambda: api.get("/api/live/status").json["destinations"][0]["state"] == "live")
    frame = grab_frame(rtmp_server.url("k"), (854, 480), skip_s=0.5)
    assert shows_scene(frame, sold_out, in_stock, BLUE_GREY_BGR), "the pushed video shows 已售罄"
    assert api.post("/api/orders", json=order_body(honey.id, 1)).status_code == 409
    api.post("/api/live/stop")


def test_a_stock_change_made_elsewhere_reaches_the_card(app, api, session, farmer, flat_video):
    millet = factories.product(session, farmer, name="巨鹿小米", stock=10)
    api.post("/api/live/start", json=start_body(flat_video))
    api.post("/api/live/show", json={"product_id": millet.id})
    from catalog import services as catalog

    catalog.adjust_stock(session, millet.id, -4, farmer, "盘点")
    session.commit()
    live = app.extensions["cunbo.live"]
    assert wait_until(lambda: live.scene.stock == 6, timeout=1.0), "a catalog write is published after commit"
    api.post("/api/live/stop")


def test_a_burst_of_changes_to_the_product_shown_is_one_card_refresh(app):
    live = app.extensions["cunbo.live"]  # no broadcast: no monitor takes from the queue meanwhile
    for n in range(50):
        live._changes.put_nowait(frozenset({n}))
    assert live._wait_change(0.1) is True
    assert live._changes.empty(), "the 49 changes behind the first are in the same refresh"
    assert live._wait_change(0.05) is False


def test_overlay_controls(app, api, session, farmer, flat_video):
    millet = factories.product(session, farmer, name="巨鹿小米", price_fen=2000, promo_price_fen=1500, stock=10)
    api.post("/api/live/start", json=start_body(flat_video))
    refused = api.post("/api/live/overlay", json={"countdown_s": 60})
    assert refused.status_code == 400 and "先选一个商品" in refused.json["error"]
    api.post("/api/live/show", json={"product_id": millet.id})
    live = app.extensions["cunbo.live"]
    assert live.scene.show_promo and live.scene.promo_price_fen == 1500
    assert api.post("/api/live/overlay", json={"countdown_s": 5}).status_code == 400
    overlay = api.post("/api/live/overlay", json={"countdown_s": 60, "show_promo": False,
                                                  "qr": True, "qr_text": "https://shop.example/xm"}).json
    assert 58 <= overlay["countdown_left_s"] <= 60 and overlay["qr"] and not overlay["show_promo"]
    assert live.scene.qr_text == "https://shop.example/xm" and not live.scene.show_promo
    overlay = api.post("/api/live/overlay", json={"cancel_countdown": True, "qr": False}).json
    assert overlay["countdown_left_s"] is None and not overlay["qr"] and live.scene.qr_text is None
    api.post("/api/live/show", json={"product_id": None})
    assert not live.scene.has_product
    api.post("/api/live/stop")


def test_one_broadcast_at_a_time(app, api, flat_video):
    assert api.post("/api/live/start", json=start_body(flat_video)).status_code == 201
    again = api.post("/api/live/start", json=start_body(flat_video))
    assert again.status_code == 409 and "已经在直播" in again.json["error"]
    api.post("/api/live/stop")
    nothing = api.post("/api/live/stop")
    assert nothing.status_code == 409 and nothing.json["error"]


def test_missing_camera_is_a_clear_error_and_records_nothing(app, api, session):
    response = api.post("/api/live/start", json={"video": "7", "audio": "none", "destinations": []})
    assert response.status_code == 400
    assert "摄像头" in response.json["error"]
    assert api.get("/api/live/status").json["state"] == "idle"
    from live.models import LiveSession

    assert session.query(LiveSession).count() == 0


def test_bad_settings_are_refused_before_anything_starts(app, api):
    response = api.post("/api/live/start", json={"video": "testsrc", "audio": "none",
                                                 "destinations": ["http://not-rtmp/x"]})
    assert response.status_code == 400 and response.json["error"]
    response = api.post("/api/live/start", json={"video": "testsrc", "preset": "4k"})
    assert response.status_code == 400 and response.json["fields"][0]["field"] == "preset"


def test_a_farmer_shows_only_their_own_products(app, api, session, flat_video):
    other = factories.user(session, "farmer", "li")
    theirs = factories.product(session, other, name="别人的枣")
    api.post("/api/live/start", json=start_body(flat_video))
    response = api.post("/api/live/show", json={"product_id": theirs.id})
    assert response.status_code == 404
    api.post("/api/live/stop")


@pytest.mark.parametrize("role", ["partner", "trainer"])
def test_roles_that_do_not_broadcast_get_403(app, api_as, session, role):
    outsider = api_as(factories.user(session, role))
    assert outsider.post("/api/live/start", json={"video": "testsrc"}).status_code == 403
    assert outsider.get("/api/live/status").status_code == 403


def test_another_farmers_session_is_404(app, api, api_as, session, flat_video):
    session_id = api.post("/api/live/start", json=start_body(flat_video)).json["session_id"]
    api.post("/api/live/stop")
    other = api_as(factories.user(session, "farmer", "li"))
    assert other.get(f"/api/sessions/{session_id}").status_code == 404
    assert api.get(f"/api/sessions/{session_id}").status_code == 200


def test_stopping_the_app_stops_the_broadcast(app, api, flat_video, session):
    session_id = api.post("/api/live/start", json=start_body(flat_video)).json["session_id"]
    for hook in app.extensions["cunbo.shutdown_hooks"]:
        hook()
    from live.models import LiveSession

    row = session.get(LiveSession, session_id)
    assert row.ended_at is not None and row.recording_paths and row.end_reason is None


def test_a_database_failure_at_start_leaves_no_broadcast_running(tmp_path, session, flat_video, no_capture_leaks):
    import db
    from live.service import LiveService

    farmer = factories.user(session, "farmer", "zhao")
    # A database without tables: the session record cannot be written.
    broken = db.make_session_factory(db.make_engine(f"sqlite:///{tmp_path / 'empty.db'}"))
    live = LiveService(broken, tmp_path, media_dirs=(flat_video.parent,))
    try:
        with pytest.raises(Exception, match="no such table"):
            live.start(farmer, video=str(flat_video), audio="none", destinations=[], preset="480p30")
        assert live.status()["state"] == "idle"
        assert not list((tmp_path / "live").glob("*.channel.json")), "the worker was stopped and forgotten"
    finally:
        live.close()


def test_switching_to_portrait_while_live_keeps_the_session(app, api, session, farmer, flat_video, rtmp_server):
    honey = factories.product(session, farmer, name="槐花蜂蜜", price_fen=4500, stock=20)
    session_id = api.post("/api/live/start", json=start_body(flat_video, destinations=[rtmp_server.url("k")])).json[
        "session_id"]
    api.post("/api/live/show", json={"product_id": honey.id})
    live = app.extensions["cunbo.live"]
    assert wait_until(lambda: live.latest_frame() is not None)
    assert live.latest_frame().shape[:2] == (480, 854)
    # On air first: on a loaded PC the encoder may not have opened its file yet when the first
    # frame is composed, and a switch before that leaves no landscape recording to keep.
    assert wait_until(lambda: api.get("/api/live/status").json["destinations"][0]["state"] == "live")

    overlay = api.post("/api/live/overlay", json={"layout": "portrait"})
    assert overlay.status_code == 200 and overlay.json["layout"] == "portrait"
    assert wait_until(lambda: api.get("/api/live/status").json["state"] == "live")
    assert wait_until(lambda: (frame := live.latest_frame()) is not None and frame.shape[:2] == (854, 480))
    status = api.get("/api/live/status").json
    assert status["session_id"] == session_id and status["product_id"] == honey.id
    assert live.scene.product_name == "槐花蜂蜜", "the card stays on the video"
    assert wait_until(lambda: api.get("/api/live/status").json["destinations"][0]["state"] == "live")

    stopped = api.post("/api/live/stop").json
    assert len(set(stopped["recordings"])) == 2, "the second pipeline never overwrites the first recording"
    sizes = [(s["width"], s["height"]) for path in stopped["recordings"]
             for s in ffprobe(path)["streams"] if s["codec_type"] == "video"]
    assert sizes == [(854, 480), (480, 854)]
    record = api.get(f"/api/sessions/{session_id}").json
    assert record["recordings"] == stopped["recordings"] and len(record["segments"]) == 1


def test_only_the_host_and_managers_drive_a_live(app, api, api_as, session, farmer, flat_video):
    mine = factories.product(session, farmer, name="巨鹿小米")
    other = factories.user(session, "farmer", "li")
    theirs = factories.product(session, other, name="别人的枣")
    intruder = api_as(other)
    coordinator = api_as(factories.user(session, "coordinator", "zhang"))
    session_id = api.post("/api/live/start", json=start_body(flat_video)).json["session_id"]
    assert intruder.get("/api/live/status").json["state"] == "idle", "another farmer sees nothing of it"
    for path, body in (("/api/live/show", {"product_id": theirs.id}), ("/api/live/show", {"product_id": None}),
                       ("/api/live/overlay", {"qr": True, "qr_text": "http://evil.example/"}),
                       ("/api/live/overlay", {"layout": "portrait"}), ("/api/live/stop", None)):
        response = intruder.post(path, json=body)
        assert response.status_code == 409, (path, response.json)
    assert intruder.get("/live/preview.mjpg").status_code == 404
    live = app.extensions["cunbo.live"]
    assert live.scene.qr_text is None and live.session_id == session_id, "nothing the intruder sent took effect"
    assert coordinator.post("/api/live/show", json={"product_id": mine.id}).status_code == 200, "a manager helps"
    assert coordinator.get("/api/live/status").json["session_id"] == session_id
    assert api.post("/api/live/stop").status_code == 200


@pytest.mark.parametrize("video", ["http://127.0.0.1:18999/x.mp4", "file:///etc/passwd", "/etc/passwd",
                                   "data/secret_key", "/nonexistent/video.mp4", "../recordings/other.mkv"])
def test_a_source_outside_cameras_media_and_stream_urls_is_refused_with_one_message(app, api, session, video):
    answers = [api.post("/api/live/start", json={"video": video, "audio": "none"}),
               api.post("/api/live/checklist", json={"video": video, "audio": "none"})]
    assert answers[0].status_code == 400
    messages = {answers[0].json["error"], answers[1].json["checks"][0]["message"]}
    assert messages == {"这个画面或声音来源不能用：请选摄像头、麦克风、测试画面，或放在视频文件夹里的文件"}
    assert not answers[1].json["ready"]
    from live.models import LiveSession

    assert session.query(LiveSession).count() == 0


def test_a_wav_file_outside_the_media_folders_is_refused(app, api, tmp_path):
    from capture.testing import make_wav

    outside = make_wav(tmp_path / "outside.wav")
    response = api.post("/api/live/start", json={"video": "testsrc", "audio": str(outside)})
    assert response.status_code == 400 and "来源不能用" in response.json["error"]


def test_a_hanging_stream_never_blocks_status_or_healthz_and_a_stop_cancels_it(app, api, client):
    import socket
    import threading

    # An RTSP "camera" that accepts the connection and never answers.
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except TimeoutError:
                continue
            except OSError:  # closed at the end of the test
                return

    acceptor = threading.Thread(target=accept, daemon=True)
    acceptor.start()
    result = {}

    def start() -> None:
        result["answer"] = api.post("/api/live/start", json={"video": f"rtsp://127.0.0.1:{port}/cam", "audio": "none"})

    starter = threading.Thread(target=start)
    try:
        starter.start()
        assert wait_until(lambda: app.extensions["cunbo.live"].status()["state"] == "starting", timeout=5)
        for _ in range(5):
            began = time.monotonic()
            assert api.get("/api/live/status").json["state"] == "starting"
            assert client.get("/healthz").status_code == 200
            assert time.monotonic() - began < 0.5, "status and health answer at once while a source hangs"
        began = time.monotonic()
        stopped = api.post("/api/live/stop")
        starter.join(10)
        assert time.monotonic() - began < 5.0, "a stop ends a hanging start within 5 s"
        assert stopped.status_code in (200, 409)
        assert result["answer"].status_code == 400, "the start says it was cancelled"
        assert api.get("/api/live/status").json["state"] == "idle"
    finally:
        stop.set()
        acceptor.join(2)
        for conn in held:
            conn.close()
        listener.close()


def test_preview_viewers_are_limited_so_request_threads_stay_free(app, api, api_as, session, farmer, flat_video):
    from live.service import PREVIEW_VIEWERS, PREVIEW_VIEWERS_PER_USER

    api.post("/api/live/start", json=start_body(flat_video))
    live = app.extensions["cunbo.live"]
    streams = [live.preview(farmer) for _ in range(PREVIEW_VIEWERS_PER_USER)]
    readers = [iter(stream) for stream in streams]
    for reader in readers:
        assert next(reader)[:2] == b"\xff\xd8", "JPEG frames"
    assert api_as(farmer).get("/live/preview.mjpg").status_code == 429, "one person cannot hold every thread"
    coordinator = factories.user(session, "coordinator", "zhang")
    streams += [live.preview(coordinator) for _ in range(PREVIEW_VIEWERS - PREVIEW_VIEWERS_PER_USER)]
    other = api_as(factories.user(session, "admin", "root"))
    assert other.get("/live/preview.mjpg").status_code == 429, "nor can all viewers together"
    for stream in streams:
        stream.close()
    for _ in range(PREVIEW_VIEWERS + 1):  # a HEAD reads no frame: its place must come back anyway
        head = api_as(farmer).client.head("/live/preview.mjpg", headers=api.headers)
        assert head.status_code == 200
        head.close()  # what the server does when the answer is sent
    viewing = api_as(farmer).get("/live/preview.mjpg")
    assert viewing.status_code == 200
    viewing.close()
    stopped = api.post("/api/live/stop")
    assert stopped.status_code == 200, stopped.get_data(as_text=True)


def test_two_stations_on_one_database_each_run_their_own_live(app, api, session, farmer, flat_video, tmp_path):
    """A county runs many stations on one database: each station's live engine sees only its own
    sessions, so both go live at once and a restart of one never closes the other's session."""
    from live.service import LiveService

    other_farmer = factories.user(session, "farmer", "li", display_name="李大哥")
    sessions = app.extensions["cunbo.sessions"]
    other = LiveService(sessions, tmp_path / "other-station", station_id="other-station",
                        media_dirs=(flat_video.parent,))
    try:
        mine = api.post("/api/live/start", json=start_body(flat_video)).json["session_id"]
        theirs = other.start(other_farmer, video=str(flat_video), audio="none", destinations=[], preset="480p30")
        assert mine != theirs
        assert app.extensions["cunbo.live"].recover() == mine, "a restart reattaches to this station's own live"
        assert other.status()["session_id"] == theirs
        assert api.get(f"/api/sessions/{theirs}").status_code == 404, "another farmer's session stays hidden"
        other.stop()
        assert api.get("/api/live/status").json["session_id"] == mine, "the other station's stop left this one live"
    finally:
        other.shutdown()
    api.post("/api/live/stop")


def test_the_console_never_holds_a_stream_key_and_goes_live_by_destination_id(app, api, session, farmer, flat_video,
                                                                               rtmp_server, client):
    from live import destinations as dest
    from tests.conftest import login

    saved = dest.add_destination(session, farmer, "douyin", rtmp_server.url(""), "wang-secret-key-7788")
    session.commit()
    login(client, "wang")
    page = client.get("/live/").get_data(as_text=True)
    assert "wang-secret-key-7788" not in page, "the key stays on the server (issue 15 #9)"
    started = api.post("/api/live/start", json={**start_body(flat_video), "destination_ids": [saved.id]})
    assert started.status_code == 201, started.json
    assert wait_until(lambda: api.get("/api/live/status").json["destinations"][0]["state"] == "live")
    api.post("/api/live/stop")
    other = factories.user(session, "farmer", "li")
    theirs = dest.add_destination(session, other, "douyin", rtmp_server.url(""), "li-key")
    session.commit()
    refused = api.post("/api/live/start", json={**start_body(flat_video), "destination_ids": [theirs.id]})
    assert refused.status_code == 400, "another host's destination cannot be used"
