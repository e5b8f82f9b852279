import os

import pytest
from PIL import Image

from mmreward.scoring.media import MediaError, MediaOptions, open_image, resolve_media


@pytest.fixture()
def root(tmp_path):
    media = tmp_path / "media"
    (media / "sub").mkdir(parents=True)
    Image.new("RGB", (32, 32), (255, 0, 0)).save(media / "sub" / "ok.png")
    Image.new("RGB", (32, 32)).save(tmp_path / "outside.png")
    os.symlink(tmp_path / "outside.png", media / "link_out.png")
    os.symlink(media / "sub" / "ok.png", media / "link_in.png")
    return media


def test_paths_inside_root_resolve(root):
    assert resolve_media("sub/ok.png", root) == (root / "sub" / "ok.png").resolve()
    assert resolve_media(str(root / "sub" / "ok.png"), root) == (root / "sub" / "ok.png").resolve()
    assert open_image("link_in.png", MediaOptions(media_root=root)).getpixel((0, 0)) == (255, 0, 0)


@pytest.mark.parametrize("path, cause", [
    ("../outside.png", "'..'"),
    ("sub/../../outside.png", "'..'"),
    ("/etc/hostname", "outside the media root"),
    ("link_out.png", "outside the media root"),
])
def test_escapes_are_refused(root, path, cause):
    with pytest.raises(MediaError, match=cause):
        resolve_media(path, root)


def test_image_errors_name_the_path(root):
    opts = MediaOptions(media_root=root, max_image_pixels=1000)
    with pytest.raises(MediaError, match="image 'missing.png' not found"):
        open_image("missing.png", opts)
    with pytest.raises(MediaError, match=r"'sub/ok.png' is 32x32 .* over the cap"):
        open_image("sub/ok.png", opts)
    (root / "text.png").write_text("not an image")
    with pytest.raises(MediaError, match="'text.png' is not a readable image"):
        open_image("text.png", MediaOptions(media_root=root))
    Image.new("RGB", (64, 64), (10, 200, 30)).save(root / "full.jpg", quality=95)
    data = (root / "full.jpg").read_bytes()
    (root / "cut.jpg").write_bytes(data[: len(data) // 2])
    with pytest.raises(MediaError, match="'cut.jpg' is corrupt or truncated"):
        open_image("cut.jpg", MediaOptions(media_root=root))
