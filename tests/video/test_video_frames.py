"""Frames come back with the content that was drawn, at the indices asked for."""
import sys

import numpy as np
import pytest

from video import VideoReader, read_frames

BACKENDS = ["decord", "pyav"]


@pytest.fixture
def identify(frame_colour):
    def which(frame: np.ndarray) -> int:
        """Which coded frame this is: nearest frame_colour to the frame's mean colour."""
        mean = frame.reshape(-1, 3).mean(0)
        return int(np.argmin([np.abs(mean - frame_colour(i)).sum() for i in range(16)]))
    return which


@pytest.mark.parametrize("backend", BACKENDS)
def test_metadata(coded_clip, backend):
    with VideoReader(coded_clip, backend=backend) as r:
        assert (r.num_frames, r.fps, r.duration, r.backend) == (16, 8.0, 2.0, backend)
        assert len(r) == 16


@pytest.mark.parametrize("backend", BACKENDS)
def test_frames_match_what_was_drawn_in_requested_order(coded_clip, backend, identify, coded_frames):
    indices = [9, 0, 15, 9, 4]  # unsorted, with a repeat
    frames = read_frames(coded_clip, indices, backend=backend)
    assert frames.shape == (5, 64, 64, 3) and frames.dtype == np.uint8
    assert [identify(f) for f in frames] == indices
    expected = coded_frames()[indices].astype(int)
    assert np.abs(frames.astype(int) - expected).max() <= 6  # mpeg4 at q=2 on flat colour


@pytest.mark.parametrize("backend", BACKENDS)
def test_out_of_range_and_non_int_indices(coded_clip, backend):
    with VideoReader(coded_clip, backend=backend) as r:
        with pytest.raises(IndexError, match="0..15"):
            r.get_frames([3, 16])
        with pytest.raises(IndexError):
            r.get_frames([-1])
        with pytest.raises(TypeError):
            r.get_frames([1.5])
        assert r.get_frames([]).shape[0] == 0


def test_max_pixels_shrinks_keeping_aspect(coded_clip, identify):
    with VideoReader(coded_clip) as r:
        frames = r.get_frames([2], max_pixels=1024)
        images = r.get_images([2, 3], max_pixels=1024)
    assert frames.shape == (1, 32, 32, 3)
    assert [im.size for im in images] == [(32, 32), (32, 32)]
    assert identify(frames[0]) == 2


@pytest.mark.parametrize("backend", BACKENDS)
def test_sample_uniform_uses_segment_centres(coded_clip, backend, identify):
    with VideoReader(coded_clip, backend=backend) as r:
        idx, frames = r.sample_uniform(4)
    assert idx == [2, 6, 10, 14]  # centres of [0,4) [4,8) [8,12) [12,16)
    assert [identify(f) for f in frames] == idx


def test_pyav_decodes_no_further_than_the_last_requested_frame(coded_clip, identify):
    with VideoReader(coded_clip, backend="pyav") as r:
        r.get_frames([1, 3])
        assert r.frames_decoded <= 4  # (colour cuts make the encoder add keyframes: often fewer)
    with VideoReader(coded_clip, backend="pyav") as r:
        r._backend._index_of = None  # the path for streams without usable timestamps
        assert [identify(f) for f in r.get_frames([3, 1])] == [3, 1]
        assert r.frames_decoded == 4  # frames 0..3 from the start, then it stops


def test_decord_converts_each_distinct_index_once(coded_clip):
    with VideoReader(coded_clip, backend="decord") as r:
        r.get_frames([5, 1, 5])
        assert r.frames_decoded == 2


def test_uniform_clip_is_what_the_scorer_reads_with_indices_and_fps(coded_clip, identify):
    from video.reader import read_uniform_clip

    clip = read_uniform_clip(coded_clip, 4, max_pixels=32 * 32)
    assert clip.frames.shape == (4, 32, 32, 3)
    assert [identify(f) for f in clip.frames] == [2, 6, 10, 14]
    assert clip.indices == [identify(f) for f in clip.frames] == [2, 6, 10, 14]
    assert clip.metadata() == {"total_num_frames": 16, "fps": 8.0, "frames_indices": [2, 6, 10, 14],
                               "duration": 2.0, "height": 32, "width": 32}


def test_pyav_takes_over_when_decord_is_missing(coded_clip, identify, monkeypatch):
    monkeypatch.setitem(sys.modules, "decord", None)  # makes `import decord` raise ImportError
    with VideoReader(coded_clip) as r:
        assert r.backend == "pyav"
        assert [identify(f) for f in r.get_frames([7, 2])] == [7, 2]


def _write_gop_clip(path, frames, codec, **options):
    import av

    with av.open(str(path), "w", format="mp4") as c:
        s = c.add_stream(codec, rate=8, options={k: str(v) for k, v in options.items()})
        s.width, s.height, s.pix_fmt = 64, 64, "yuv420p"
        if codec == "mpeg4":
            s.codec_context.gop_size, s.codec_context.max_b_frames = 4, 2
            s.codec_context.qmin = s.codec_context.qmax = 2
        for f in frames:
            c.mux(s.encode(av.VideoFrame.from_ndarray(f, format="rgb24")))
        c.mux(s.encode())
    return path


@pytest.fixture(scope="module")
def open_gop_clip(tmp_path_factory, coded_frames):
    """mpeg4 with B-frames: I-frames followed by B-frames shown before them (open GOP)."""
    return _write_gop_clip(tmp_path_factory.mktemp("gop") / "open_gop.mp4", coded_frames(), "mpeg4")


@pytest.fixture(scope="module")
def closed_gop_clip(tmp_path_factory, coded_frames):
    """libx264, a keyframe every 4 frames, 2 B-frames, closed GOPs (x264's default)."""
    import av

    if "libx264" not in av.codecs_available:
        pytest.skip("no libx264 in this ffmpeg build")
    return _write_gop_clip(tmp_path_factory.mktemp("gop") / "closed_gop.mp4", coded_frames(), "libx264",
                           g=4, bf=2, sc_threshold=0, qp=0)


WANTED = [13, 2, 9, 14]


@pytest.mark.parametrize("backend", ["auto", "pyav"])
def test_open_gop_b_frames_come_back_right(open_gop_clip, backend, identify):
    with VideoReader(open_gop_clip, backend=backend) as r:
        assert r.num_frames == 16
        assert [identify(f) for f in r.get_frames(WANTED)] == WANTED
        assert [identify(f) for f in r.get_frames(list(range(16)))] == list(range(16))


def test_auto_leaves_decord_where_its_seeks_go_wrong(open_gop_clip, closed_gop_clip, identify):
    with VideoReader(open_gop_clip) as r:
        assert r.backend == "pyav" and "open GOP" in r.note
    with VideoReader(closed_gop_clip) as r:  # keyframes line up: decord is fine
        assert r.backend == "decord" and r.note is None
        assert [identify(f) for f in r.get_frames(WANTED)] == WANTED


def test_pyav_seeks_to_the_keyframe_before_the_frame_wanted(closed_gop_clip, identify):
    with VideoReader(closed_gop_clip, backend="pyav") as r:
        assert identify(r.get_frames([13])[0]) == 13
        assert r.frames_decoded <= 6  # keyframe 12, 13 and the decoder's reorder delay; not 14 frames


def test_auto_reads_with_pyav_where_decord_opens_but_cannot_decode(tmp_path):
    """decord 0.6 opens a 48-px-wide clip, then fails every decode ("from_size == to_size")."""
    from video import VideoError
    from video.writer import write_mp4

    rng = np.random.default_rng(0)
    frames = rng.integers(0, 255, (4, 32, 48, 3), dtype=np.uint8)
    path = tmp_path / "w48.mp4"
    write_mp4(path, frames, fps=5)
    with pytest.raises(VideoError, match="could not decode frames"):
        VideoReader(path, backend="decord").get_frames([0])
    with VideoReader(path) as r, VideoReader(path, backend="pyav") as reference:
        assert r.backend == "decord"  # it opens
        got = r.get_frames([3, 0])
        assert r.backend == "pyav" and "decord could not decode" in r.note
        assert np.array_equal(got, reference.get_frames([3, 0]))
        assert got.shape == (2, 32, 48, 3)
        assert np.array_equal(r.get_frames([1]), reference.get_frames([1]))  # it stays with PyAV
    with VideoReader(path.read_bytes()) as r:  # the same in memory
        assert np.array_equal(r.get_frames([2]), VideoReader(path, backend="pyav").get_frames([2]))
