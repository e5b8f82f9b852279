"""A cap on pixels per frame refuses a video from its stream header, before decoding: a few
kilobytes can declare frames of hundreds of megapixels.

The huge files here are crafted, not encoded (encoding 100 MP frames is not cheap): a 16x16
MJPEG clip muxed by PyAV whose declared sizes are then rewritten to N x N in place: the mp4
sample entry (width, height), the track header (16.16 fixed point) and each JPEG's SOF0
marker, so that ffmpeg's probe reports N x N. Their frame data stay 16x16, so they cannot be
decoded at the size they claim: what refuses them must be the header check.
"""
from __future__ import annotations

import io
import struct
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mmreward.errors import MediaError
from mmreward.scoring.datauri import encode_data_uri
from mmreward.scoring.media import MediaOptions, open_video
from video.errors import VideoError
from video.reader import VideoReader

CAP = 64_000_000  # MediaOptions' default max_image_pixels
SMALL_REAL = (Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "videos" / "videoalign-examples"
              / "example_3_B.mp4").resolve()  # 60 frames, 16 fps, 688x384


def crafted_mp4(size: int) -> bytes:
    """4 MJPEG frames of 16x16 pixels in an mp4 whose headers declare size x size."""
    import av

    jpeg = io.BytesIO()
    Image.new("RGB", (16, 16), (90, 20, 20)).save(jpeg, format="JPEG", quality=90)
    out = io.BytesIO()
    with av.open(out, "w", format="mp4") as container:
        stream = container.add_stream("mjpeg", rate=8)
        stream.width, stream.height, stream.pix_fmt = 16, 16, "yuvj420p"
        for i in range(4):
            packet = av.Packet(jpeg.getvalue())
            packet.stream, packet.pts, packet.dts, packet.time_base = stream, i, i, Fraction(1, 8)
            container.mux(packet)
    data = bytearray(out.getvalue())
    entry = data.index(b"mp4v")  # VisualSampleEntry: width, height 28 bytes after its type
    assert struct.unpack_from(">HH", data, entry + 28) == (16, 16)
    struct.pack_into(">HH", data, entry + 28, size, size)
    tkhd = data.index(b"tkhd")  # its last 8 bytes: width, height in 16.16
    end = tkhd - 4 + struct.unpack_from(">I", data, tkhd - 4)[0]
    assert struct.unpack_from(">II", data, end - 8) == (16 << 16, 16 << 16)
    struct.pack_into(">II", data, end - 8, size << 16, size << 16)
    at, patched = 0, 0
    while (at := data.find(b"\xff\xc0\x00\x11", at)) >= 0:  # SOF0: height, width after precision
        struct.pack_into(">HH", data, at + 5, size, size)
        at, patched = at + 1, patched + 1
    assert patched == 4
    return bytes(data)


@pytest.fixture(scope="module")
def huge() -> bytes:
    return crafted_mp4(10_000)  # 100 MP per frame: over the cap, within what ffmpeg would decode


@pytest.mark.parametrize("backend", ["auto", "decord", "pyav"])
def test_a_huge_header_is_refused_before_decoding(huge, tmp_path, backend):
    assert len(huge) < 5_000
    path = tmp_path / "huge.mp4"
    path.write_bytes(huge)
    for source in (huge, path):
        with pytest.raises(VideoError, match=r"frames are 10000x10000 = 100\.0 MP, over the cap of 64\.0 MP "
                                             r"per frame; refused before decoding"):
            VideoReader(source, backend=backend, max_frame_pixels=CAP)
    # without the cap the decoders get the file and fail on it in their own words
    with pytest.raises(VideoError) as uncapped:
        with VideoReader(huge, backend=backend) as reader:
            reader.get_frames([0])
    assert "over the cap" not in str(uncapped.value)


def test_a_size_ffmpeg_will_not_decode_is_refused_too():
    # 20000 x 20000 is over ffmpeg's own limit (about 268 MP): its probe reports 0x0
    with pytest.raises(VideoError, match=r"declares no frame size \(0x0\).*refused before decoding"):
        VideoReader(crafted_mp4(20_000), max_frame_pixels=CAP)


def test_a_real_clip_over_a_lowered_cap(tmp_path):
    data = SMALL_REAL.read_bytes()  # 688x384 = 264192 pixels per frame
    with pytest.raises(VideoError, match=r"688x384 = 0\.3 MP, over the cap of 0\.3 MP per frame; refused before"):
        VideoReader(data, max_frame_pixels=264_191)
    with VideoReader(data, max_frame_pixels=264_192) as capped, VideoReader(data) as free:
        assert np.array_equal(capped.get_frames([0, 30]), free.get_frames([0, 30]))


def test_decoded_frames_are_checked_when_the_header_cannot_be(monkeypatch):
    """Without PyAV (simulated) the header is not read; the decoded frames are checked instead."""
    import video.pyav_backend
    def no_pyav(source):
        raise ImportError("no module named av")

    monkeypatch.setattr(video.pyav_backend, "frame_size", no_pyav)
    with VideoReader(SMALL_REAL, backend="decord", max_frame_pixels=100_000) as reader:
        assert reader.num_frames == 60
        with pytest.raises(VideoError, match=r"688x384 = 0\.3 MP, over the cap of 0\.1 MP per frame; refused decoded"):
            reader.get_frames([0])


def test_records_get_the_cap_error_in_every_form(huge, tmp_path):
    (tmp_path / "huge.mp4").write_bytes(huge)
    opts = MediaOptions(media_root=tmp_path)
    for value, name in ((huge, "video 0"), (encode_data_uri(huge, "video/mp4"), "video 0"),
                        ("huge.mp4", "video 'huge.mp4'")):
        with pytest.raises(MediaError, match=rf"^{name}: .*frames are 10000x10000 = 100\.0 MP, over the cap"):
            open_video(value, opts)
