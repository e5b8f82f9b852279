"""Videos in memory: encoded bytes read without a file, and decoded frames sampled like a file."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from video.errors import VideoError
from video.reader import VideoReader, clip_from_frames, read_uniform_clip

REAL = (Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "videos" / "videoalign-examples"
        / "example_2_A.mp4").resolve()  # 144 frames, 24 fps, 672x384 h264
CAP = 128 * 28 * 28


@pytest.fixture(scope="module")
def real():
    if not REAL.is_file():
        pytest.fail(f"missing {REAL}")
    return REAL.read_bytes()


def test_bytes_read_like_the_file(real):
    with VideoReader(REAL) as f, VideoReader(real) as m:
        assert (m.num_frames, m.fps, m.backend) == (f.num_frames, f.fps, f.backend) == (144, 24.0, "decord")
        assert m.path == f"<{len(real)} bytes>"
        idx = [0, 50, 143]
        assert np.array_equal(m.get_frames(idx), f.get_frames(idx))
    a, b = read_uniform_clip(REAL, 8, CAP), read_uniform_clip(real, 8, CAP)
    assert a.indices == b.indices and np.array_equal(a.frames, b.frames)
    assert a.metadata() == b.metadata()


def test_all_decoded_frames_sample_like_the_file(real):
    with VideoReader(REAL) as r:
        frames, fps = r.get_frames(list(range(r.num_frames))), r.fps
    from_file = read_uniform_clip(REAL, 8, CAP)
    in_memory = clip_from_frames(frames, fps, 8, CAP)
    assert in_memory.indices == from_file.indices == [9, 27, 45, 63, 81, 99, 117, 135]
    assert np.array_equal(in_memory.frames, from_file.frames)
    assert in_memory.metadata() == from_file.metadata()
    # a lazy sequence: only the sampled frames are read
    read = []

    class Lazy:
        def __len__(self):
            return len(frames)

        def __getitem__(self, i):
            read.append(i)
            return frames[i]

    clip_from_frames(Lazy(), fps, 8, CAP)
    assert sorted(read) == from_file.indices


WEBM_SCRIPT = """
import io, sys
import av, numpy as np
buf = io.BytesIO()
with av.open(buf, "w", format="webm") as out:
    stream = out.add_stream("libvpx", rate=8)
    stream.width = stream.height = 64
    stream.pix_fmt = "yuv420p"
    for i in range(16):
        frame = np.zeros((64, 64, 3), np.uint8)
        frame[:] = (15 * i, 128, 255 - 15 * i)
        out.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
    out.mux(stream.encode())
sys.stdout.buffer.write(buf.getvalue())
"""


def test_webm_bytes_decode_in_memory(frame_colour):
    # encoded in a fresh interpreter: once decord (with its own ffmpeg) is loaded, PyAV's
    # libvpx encoder fails to open in this process
    done = subprocess.run([sys.executable, "-c", WEBM_SCRIPT], capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr.decode()
    data = done.stdout
    assert data[:4] == b"\x1a\x45\xdf\xa3"  # EBML: a WebM/Matroska file
    with VideoReader(data) as r:
        assert r.num_frames == 16 and r.fps == pytest.approx(8.0)
        got = r.get_frames([3, 12]).astype(int)
    for frame, i in zip(got, (3, 12)):
        assert np.abs(frame[32, 32] - frame_colour(i)).max() < 16


def test_bad_bytes_are_video_errors():
    with pytest.raises(VideoError, match=r"'<0 bytes>': empty"):
        VideoReader(b"")
    with pytest.raises(VideoError, match=r"'<13 bytes>': not a readable video"):
        VideoReader(b"not a video!!")
    with pytest.raises(ValueError, match="fps must be positive"):
        clip_from_frames(np.zeros((4, 8, 8, 3), np.uint8), 0, 2)
