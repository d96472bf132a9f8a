"""The parts of the node layer that need no master: image conversion, newest-message worker, stamp matching."""

from __future__ import annotations

import json
import subprocess
import sys
import threading

import cv2
import numpy as np
import pytest

pytest.importorskip("rospy", reason="ROS 1 (rospy, cv_bridge) is not installed: the ROS adapters are not tested")
pytestmark = pytest.mark.ros

from cv_bridge import CvBridge  # noqa: E402
from sensor_msgs.msg import Image  # noqa: E402
from std_msgs.msg import Header  # noqa: E402

from conftest import over_the_wire  # noqa: E402
from face_affect.geometry import box_iou  # noqa: E402
from face_affect.image_messages import SUPPORTED_ENCODINGS, ImageError  # noqa: E402
from face_affect.node_core.hri import expression_message, region_message, softbiometrics_message  # noqa: E402
from face_affect.node_core.latest import LatestMessageWorker  # noqa: E402
from face_affect.node_core.matching import StampMatcher  # noqa: E402
from face_affect.node_core.memory import MALLOC_TRIM, MALLOPT  # noqa: E402
from face_affect.node_core.stamps import StampError, StampLimits  # noqa: E402
from face_affect.node_core.throttle import MAX_KINDS, ThrottledLog  # noqa: E402
from face_affect.ros.images import ImageConverter  # noqa: E402
from face_affect.types import Attribute, FaceBox, FaceResult  # noqa: E402

# A small real picture: odd width, so 3- and 1-byte rows are not 4-byte aligned.
RANDOM = np.random.default_rng(0)
BGR = cv2.resize(RANDOM.integers(0, 256, (12, 14, 3), dtype=np.uint8), (33, 24), interpolation=cv2.INTER_LINEAR)


YUV422_BYTE_ORDERS = {"yuv422": "UYVY", "yuv422_yuy2": "YUYV"}


def yuv422(bgr: np.ndarray, encoding: str) -> np.ndarray:
    """BGR as a USB camera sends it: BT.601 video-range 4:2:2, chroma shared by each pixel pair.

    Packed here from the colour formulas, not with OpenCV, whose decoding is what is tested.
    """
    bgr = bgr[:, : bgr.shape[1] // 2 * 2].astype(np.float32)
    blue, green, red = bgr[..., 0], bgr[..., 1], bgr[..., 2]
    luma = 0.299 * red + 0.587 * green + 0.114 * blue
    u = 128 + (blue - luma) * 0.564 * 224 / 255
    v = 128 + (red - luma) * 0.713 * 224 / 255
    y = 16 + luma * 219 / 255
    pair_u, pair_v = (u[:, 0::2] + u[:, 1::2]) / 2, (v[:, 0::2] + v[:, 1::2]) / 2
    packed = np.empty((*y.shape, 2), np.float32)
    chroma, luma_channel = (0, 1) if YUV422_BYTE_ORDERS[encoding] == "UYVY" else (1, 0)
    packed[..., luma_channel] = y
    packed[:, 0::2, chroma], packed[:, 1::2, chroma] = pair_u, pair_v
    return np.clip(np.rint(packed), 0, 255).astype(np.uint8)


def encoded(encoding: str) -> np.ndarray:
    """BGR as a camera publishing ``encoding`` would send it (a Bayer mosaic keeps one channel per pixel)."""
    if encoding in YUV422_BYTE_ORDERS:
        return yuv422(BGR, encoding)
    if encoding.startswith("bayer"):
        return cv2.cvtColor(BGR, cv2.COLOR_BGR2GRAY)
    conversions = {
        "bgr8": None,
        "rgb8": cv2.COLOR_BGR2RGB,
        "bgra8": cv2.COLOR_BGR2BGRA,
        "rgba8": cv2.COLOR_BGR2RGBA,
        "mono8": cv2.COLOR_BGR2GRAY,
    }
    code = conversions[encoding]
    return BGR.copy() if code is None else cv2.cvtColor(BGR, code)


def image_message(pixels: np.ndarray, encoding: str, padding: int = 0) -> Image:
    """A raw Image whose rows are ``padding`` bytes longer than the pixels need."""
    rows = pixels.reshape(pixels.shape[0], -1)
    padded = np.zeros((rows.shape[0], rows.shape[1] + padding), dtype=np.uint8)
    padded[:, : rows.shape[1]] = rows
    return Image(
        height=pixels.shape[0],
        width=pixels.shape[1],
        encoding=encoding,
        step=padded.shape[1],
        data=padded.tobytes(),
    )


# Debian's cv_bridge 1.16 does not know yuv422_yuy2; the YUV tests below cover it.
@pytest.mark.parametrize("encoding", sorted(set(SUPPORTED_ENCODINGS) - {"yuv422_yuy2"}))
def test_every_encoding_converts_like_cv_bridge(encoding: str) -> None:
    message = image_message(encoded(encoding), encoding)
    expected = CvBridge().imgmsg_to_cv2(message, desired_encoding="bgr8")
    np.testing.assert_array_equal(ImageConverter().to_bgr(message), expected)


@pytest.mark.parametrize("encoding", sorted(SUPPORTED_ENCODINGS))
def test_padded_rows_give_the_same_picture(encoding: str) -> None:
    pixels = encoded(encoding)
    converter = ImageConverter()
    plain = converter.to_bgr(image_message(pixels, encoding))
    for padding in (1, 3, 64):
        np.testing.assert_array_equal(converter.to_bgr(image_message(pixels, encoding, padding)), plain)


def test_both_yuv422_byte_orders_decode_to_the_picture() -> None:
    converter = ImageConverter()
    uyvy, yuyv = (converter.to_bgr(image_message(encoded(name), name)) for name in ("yuv422", "yuv422_yuy2"))
    np.testing.assert_array_equal(uyvy, yuyv)
    # Chroma is shared by pixel pairs, so colour is not exact on this noise picture; brightness is.
    grey, original = (cv2.cvtColor(image, cv2.COLOR_BGR2GRAY).astype(int) for image in (uyvy, BGR[:, :32]))
    assert np.abs(grey - original).max() <= 3


@pytest.mark.parametrize("encoding", sorted(YUV422_BYTE_ORDERS))
def test_a_usb_camera_frame_gives_the_faces_of_its_bgr8_frame(encoding: str, pipeline, two_people) -> None:
    converter = ImageConverter()
    even = two_people[:, : two_people.shape[1] // 2 * 2]
    expected = pipeline.detect(converter.to_bgr(image_message(even, "bgr8")))
    found = pipeline.detect(converter.to_bgr(image_message(yuv422(even, encoding), encoding)))
    assert len(expected) == 2 and len(found) == len(expected)
    for box, reference in zip(found, expected):
        assert box_iou(box, reference) > 0.9, (box, reference)


def test_colour_encodings_of_one_picture_are_identical() -> None:
    converter = ImageConverter()
    for encoding in ("bgr8", "rgb8", "bgra8", "rgba8"):
        np.testing.assert_array_equal(converter.to_bgr(image_message(encoded(encoding), encoding)), BGR)


@pytest.mark.parametrize(
    ("message", "problem"),
    [
        (Image(height=2, width=2, encoding="16UC1", step=4, data=bytes(8)), "unsupported encoding '16UC1'"),
        (Image(height=2, width=2, encoding="nv21", step=4, data=bytes(8)), "unsupported encoding 'nv21'"),
        (Image(height=2, width=2, encoding="yuv422", step=3, data=bytes(8)), "malformed yuv422 image"),
        (Image(height=2, width=3, encoding="yuv422_yuy2", step=6, data=bytes(12)), "width 3 is odd"),
        (Image(height=0, width=640, encoding="bgr8", step=1920, data=b""), "empty 640x0 image"),
        (Image(height=4, width=4, encoding="bgr8", step=12, data=bytes(47)), "malformed bgr8 image"),
        (Image(height=4, width=4, encoding="bgr8", step=8, data=bytes(48)), "malformed bgr8 image"),
    ],
)
def test_bad_raw_images_are_named(message: Image, problem: str) -> None:
    with pytest.raises(ImageError, match=problem):
        ImageConverter().to_bgr(message)


def test_a_one_pixel_image_converts() -> None:
    message = Image(height=1, width=1, encoding="rgb8", step=3, data=bytes([1, 2, 3]))
    np.testing.assert_array_equal(ImageConverter().to_bgr(message), [[[3, 2, 1]]])


def test_worker_processes_only_the_newest_pending_message() -> None:
    started, release = threading.Event(), threading.Event()
    handled: list[int] = []
    done = threading.Event()

    def handle(message: int) -> None:
        if message == 0:
            started.set()
            release.wait(5)
        handled.append(message)
        if message == 10_000:
            done.set()

    worker = LatestMessageWorker(handle, on_error=pytest.fail)
    worker.put(0)
    assert started.wait(5)
    for message in range(1, 10_001):  # arrive while 0 is being processed: one slot holds the newest
        worker.put(message)
    release.set()
    assert done.wait(5)
    worker.stop(timeout=5)
    assert handled == [0, 10_000]
    assert (worker.counts.received, worker.counts.processed, worker.counts.dropped) == (10_001, 2, 9_999)


def test_a_message_the_handler_skips_is_not_counted_as_processed() -> None:
    done = threading.Event()

    def handle(message: int) -> bool:
        if message == 2:
            done.set()
        return message != 1  # 1: nothing to do

    worker = LatestMessageWorker(handle, on_error=pytest.fail)
    for message in (1, 2):
        worker.put(message)
        if message == 1:
            while worker.counts.skipped == 0:  # one at a time, so neither is dropped
                threading.Event().wait(0.001)
    assert done.wait(5)
    worker.stop(timeout=5)
    assert (worker.counts.processed, worker.counts.skipped, worker.counts.dropped) == (1, 1, 0)


def test_worker_reports_errors_and_keeps_running() -> None:
    errors: list[Exception] = []
    handled = threading.Event()

    def handle(message: str) -> None:
        if message == "bad":
            raise ValueError("bad frame")
        handled.set()

    worker = LatestMessageWorker(handle, on_error=errors.append)
    worker.put("bad")
    while worker.counts.errors < 1:
        threading.Event().wait(0.01)
    worker.put("good")
    assert handled.wait(5)
    worker.stop(timeout=5)
    assert [str(error) for error in errors] == ["bad frame"]
    # The failure is an error, not a processed frame, and its text is kept for diagnostics.
    assert (worker.counts.errors, worker.counts.processed) == (1, 1)
    assert worker.counts.last_error == "ValueError: bad frame"


@pytest.mark.parametrize("frame_first", [True, False])
def test_matcher_pairs_frame_and_results_in_either_order(frame_first: bool) -> None:
    matcher = StampMatcher(capacity=3)
    if frame_first:
        assert matcher.add_frame((1, 0), "frame") is None
        assert matcher.add_results((1, 0), "results") == ("frame", "results")
    else:
        assert matcher.add_results((1, 0), "results") is None
        assert matcher.add_frame((1, 0), "frame") == ("frame", "results")
    # A pair is handed out once.
    assert matcher.add_results((1, 0), "again") is None


def test_matcher_forgets_the_oldest_beyond_capacity() -> None:
    matcher = StampMatcher(capacity=2)
    for second in (1, 2, 3):
        matcher.add_frame((second, 0), f"frame {second}")
    assert matcher.add_results((1, 0), "results") is None
    assert matcher.add_results((3, 0), "results") == ("frame 3", "results")


def test_matcher_holds_its_bound_on_both_sides() -> None:
    """Frames nobody classified and results whose frame never came: each side keeps at most ``capacity``."""
    matcher = StampMatcher(capacity=30)
    for second in range(10_000):
        matcher.add_frame((second, 0), "frame")
        matcher.add_results((second, 1), "results")
    assert (len(matcher._frames), len(matcher._results)) == (30, 30)
    assert matcher.add_results((9_999, 0), "results") == ("frame", "results")  # the newest are the ones kept
    assert matcher.add_results((9_969, 0), "results") is None


def test_matcher_does_not_pair_different_stamps_and_clears() -> None:
    matcher = StampMatcher(capacity=4)
    matcher.add_frame((1, 5), "frame")
    assert matcher.add_results((1, 6), "results") is None
    matcher.clear()
    assert matcher.add_frame((1, 6), "frame") is None


def test_matcher_rejects_zero_capacity() -> None:
    with pytest.raises(ValueError, match="capacity"):
        StampMatcher(capacity=0)


def test_stamps_near_the_clock_are_the_frame_time_and_far_ones_are_refused() -> None:
    limits = StampLimits(max_age=60.0, max_ahead=5.0)
    assert limits.frame_seconds(1000.0, now=1000.3) == 1000.0  # a frame 0.3 s old
    assert limits.frame_seconds(1004.0, now=1000.0) == 1004.0  # a camera clock 4 s ahead
    assert limits.frame_seconds(0.0, now=1000.0) == 1000.0  # unstamped: the time of arrival
    with pytest.raises(StampError, match=r"stamp 3600.0 s behind the clock .*rosbag play --clock"):
        limits.frame_seconds(1000.0 - 3600, now=1000.0)
    with pytest.raises(StampError, match=r"stamp 6.0 s ahead of the clock \(stamp_max_ahead 5 s\)"):
        limits.frame_seconds(1006.0, now=1000.0)


def test_warnings_are_throttled_per_kind_of_problem() -> None:
    """Two faults alternating on every message: each kind is logged once per period, not every time."""
    logged: list[str] = []
    now = [0.0]
    log = ThrottledLog(logged.append, period=10.0, clock=lambda: now[0])
    for index in range(1000):
        now[0] = index * 0.01  # 100 messages a second for 10 s
        log(f"face {index % 3}: score nan is not finite" if index % 2 else f"crop 4x4 does not match ({index}, 229)")
    assert logged == ["crop 4x4 does not match (0, 229)", "face 1: score nan is not finite"]
    now[0] = 10.5
    assert log("face 7: score nan is not finite") and len(logged) == 3
    for index in range(10 * MAX_KINDS):  # texts a sender chose: the kinds remembered stay bounded
        letters = "".join(chr(ord("a") + int(digit)) for digit in str(index))
        log(f"unsupported encoding '{letters}'")
    assert len(log.last_logged) == MAX_KINDS


FREED_MESSAGE_CHECK = """
import io, json, threading
from pathlib import Path
from sensor_msgs.msg import Image
from face_affect.msg import FaceDetection, FaceDetectionArray
from face_affect.node_core.memory import keep_large_blocks_in_heap, release_free_memory

keep_large_blocks_in_heap()  # as run_node does (it may be refused: the release must work either way)

def resident_megabytes():
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024

face = FaceDetection(track_id="abcde_1")
face.crop = Image(height=230, width=240, encoding="mono8", step=240, data=bytes(240 * 230))
buffer = io.BytesIO()
FaceDetectionArray(faces=[face] * 300).serialize(buffer)
serialised = buffer.getvalue()
release_free_memory()
before = resident_megabytes()
for _ in range(5):
    thread = threading.Thread(target=lambda: FaceDetectionArray().deserialize(serialised))
    thread.start()
    thread.join()
kept = resident_megabytes() - before
released = release_free_memory()
print(json.dumps({"kept": kept, "released": released, "after": resident_megabytes() - before}))
"""


@pytest.mark.skipif(MALLOC_TRIM is None, reason="no glibc malloc_trim here")
def test_memory_freed_by_a_large_message_goes_back_to_the_system() -> None:
    """A 16 MB faces message of 300 crops, deserialised and dropped five times by receiving threads
    as rospy does: the heap keeps megabytes of freed pages until they are released. In a fresh
    interpreter, as a node starts: what the other tests allocated would change the heap's state."""
    run = subprocess.run([sys.executable, "-c", FREED_MESSAGE_CHECK], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    figures = json.loads(run.stdout.strip().splitlines()[-1])
    assert figures["released"]
    after, kept = figures["after"], figures["kept"]
    assert after < 1.5, f"{after:.1f} MB still resident ({kept:.1f} MB before the release)"


RECEIVE_FAULTS_CHECK = """
import io, json, resource, socket, threading
from face_affect.ros.images import BUFF_SIZE
from face_affect.node_core.memory import keep_large_blocks_in_heap

tuned = keep_large_blocks_in_heap()  # as run_node does
frame = bytes(640 * 480 * 3)
sender, receiver = socket.socketpair()
for end, option in ((sender, socket.SO_SNDBUF), (receiver, socket.SO_RCVBUF)):
    end.setsockopt(socket.SOL_SOCKET, option, 4096)  # small chunks, as many as a busy machine sees
threading.Thread(target=lambda: [sender.sendall(frame) for _ in range(30)], daemon=True).start()

received = 0
faults = []

def receive_frame(number):  # as rospy's receive loop does: recv(buff_size) into a buffer until the frame is in
    global received
    buffer = io.BytesIO()
    while received < number * len(frame):
        received += buffer.write(receiver.recv(BUFF_SIZE))
    return buffer.getvalue()

def receive_frames():  # in a thread of its own, as rospy receives each topic
    receive_frame(1)
    faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt)
    for number in range(2, 31):
        receive_frame(number)
    faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt)

receiving = threading.Thread(target=receive_frames)
receiving.start()
receiving.join()
print(json.dumps({"tuned": tuned, "faults_per_frame": (faults[1] - faults[0]) / 29}))
"""


@pytest.mark.skipif(MALLOPT is None, reason="no glibc mallopt here")
def test_received_frames_reuse_heap_pages() -> None:
    """rospy receives each chunk of a frame into a fresh ``BUFF_SIZE`` block. Kept in the heap,
    those blocks reuse pages: 0-9 page faults a VGA frame received in about 115 chunks of 8 kB
    (14 runs beside two training jobs; 13 of them under 0.1). Mapped from the kernel each time
    (glibc's default, or this setting lost), 347-380 a frame; with only 4 MB of the heap's top
    kept, 115, one for each chunk (a CI run saw 165 when the scheduler chose the chunks). Page
    faults, not seconds: bench/ros_graph.py measures the cost (the detector's receiving thread
    went from 0.052 to 0.030 cores at 30 Hz VGA)."""
    run = subprocess.run([sys.executable, "-c", RECEIVE_FAULTS_CHECK], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    figures = json.loads(run.stdout.strip().splitlines()[-1])
    if not figures["tuned"]:
        pytest.skip("this glibc refuses a 128 MB mmap threshold: allocation stays as it was")
    assert figures["faults_per_frame"] < 30


def stated_result(gender: str, emotion: str, age: float | None = 34.4) -> FaceResult:
    attributes = {
        "gender": Attribute(gender, 0.9, {"woman": 0.9, "man": 0.1}),
        "emotion": Attribute(emotion, 0.7, {"happy": 0.7, "neutral": 0.3}),
    }
    if age is not None:
        attributes["age"] = Attribute(f"{age:.0f}", 0.6, {}, value=age, spread=4.0)
    return FaceResult(FaceBox(10, 20, 30, 40), attributes, track_id="abcde_1")


def test_the_messages_carry_the_constants_a_client_compares_with():
    hri_msgs = pytest.importorskip("hri_msgs.msg", reason="hri_msgs is not installed (ROS4HRI is optional)")
    header = Header(frame_id="camera")
    expression = over_the_wire(expression_message(hri_msgs, header, stated_result("woman", "happy")))
    assert expression.expression == hri_msgs.Expression.HAPPY  # '"happy"' in ROS 1: never compare with "happy"
    assert expression.confidence == pytest.approx(0.7) and expression.valence > 0 and expression.header.frame_id
    assert over_the_wire(expression_message(hri_msgs, header, stated_result("woman", ""))).expression == ""
    biometrics = over_the_wire(softbiometrics_message(hri_msgs, header, stated_result("woman", "happy")))
    assert biometrics.gender == hri_msgs.SoftBiometrics.FEMALE and biometrics.gender_confidence == pytest.approx(0.9)
    assert (biometrics.age, biometrics.age_confidence) == (34, pytest.approx(0.6))
    unsure = over_the_wire(softbiometrics_message(hri_msgs, header, stated_result("", "happy", age=None)))
    assert unsure.gender == hri_msgs.SoftBiometrics.UNDEFINED and unsure.age == 0
    roi = over_the_wire(region_message(hri_msgs, header, stated_result("man", "sad"), (100, 200), 0.75))
    assert (roi.xmin, roi.ymin, roi.xmax, roi.ymax, roi.c) == pytest.approx((0.1, 0.1, 0.4, 0.3, 0.75))
