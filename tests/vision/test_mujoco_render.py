import os
import shutil

import numpy as np
import pytest

from vision import mujoco_render
from vision.mujoco_render import RenderConfig, check_xml_assets, make_env, render_frame, select_gl_backend

SMALL = dict(width=96, height=96)


def _frames(env, steps: int, seed: int = 0):
    env.reset(seed=seed)
    env.action_space.seed(seed)
    frames = [render_frame(env)]
    for _ in range(steps):
        env.step(env.action_space.sample())
        frames.append(render_frame(env))
    env.close()
    return frames


def test_a_headless_backend_works():
    assert any(mujoco_render._probe(b) for b in mujoco_render.GL_BACKENDS)
    chosen = os.environ.get("MUJOCO_GL")
    if chosen:  # the process already committed to one: it is respected
        assert select_gl_backend() == chosen
    else:
        backend = select_gl_backend()
        assert backend in mujoco_render.GL_BACKENDS and os.environ["MUJOCO_GL"] == backend


def test_plain_humanoid_frames_are_real_renders():
    frames = _frames(make_env(RenderConfig(**SMALL)), steps=4)
    assert all(f.shape == (96, 96, 3) and f.dtype == np.uint8 for f in frames)
    assert all(f.std() > 10 for f in frames)  # not a blank or constant image
    diffs = [np.abs(a.astype(int) - b.astype(int)).mean() for a, b in zip(frames, frames[1:], strict=False)]
    assert min(diffs) > 0.01  # the body moves between steps


def test_textured_humanoid_loads_its_textures(textured_xml):
    assert {p.name for p in check_xml_assets(textured_xml)} == {"sky.png", "tiles.png", "robot.png"}
    env = make_env(RenderConfig(textured=True, **SMALL))
    model = env.unwrapped.model
    assert model.ntex == 3 and (model.tex_height > 1).all()  # image textures, not builtins
    textured = _frames(env, steps=2)
    plain = _frames(make_env(RenderConfig(**SMALL)), steps=2)
    sky = textured[0][:10].reshape(-1, 3).mean(0)
    assert sky[2] > sky[0] + 30  # the photographic sky is blue
    assert np.abs(textured[0].astype(int) - plain[0].astype(int)).mean() > 10
    assert not (textured[1] == textured[2]).all()


def test_textured_override_and_missing_texture(tmp_path, textured_xml, monkeypatch):
    monkeypatch.setenv(mujoco_render.TEXTURED_HUMANOID_ENV, str(textured_xml.parent))
    assert mujoco_render.default_textured_xml() == textured_xml
    # a copy of the XML without its PNGs: the error names the texture, nothing is written in shared/
    shutil.copy(textured_xml, tmp_path / textured_xml.name)
    monkeypatch.setenv(mujoco_render.TEXTURED_HUMANOID_ENV, str(tmp_path))
    with pytest.raises(FileNotFoundError, match="texture file 'sky.png'"):
        make_env(RenderConfig(textured=True, **SMALL))
    monkeypatch.setenv(mujoco_render.TEXTURED_HUMANOID_ENV, str(tmp_path / "nowhere.xml"))
    with pytest.raises(FileNotFoundError, match="model XML not found"):
        make_env(RenderConfig(textured=True, **SMALL))


def test_bad_envs_are_named():
    with pytest.raises(ValueError, match="unknown environment 'NoSuchRobot-v0'"):
        make_env(RenderConfig(env_id="NoSuchRobot-v0"))
    with pytest.raises(ValueError, match="does not apply to 'Ant-v5'"):
        make_env(RenderConfig(env_id="Ant-v5", textured=True))
    with pytest.raises(ValueError, match="rejected its options"):
        make_env(RenderConfig(env_id="Humanoid-v5", env_kwargs={"no_such_option": 1}))


RENDER_ONE = """
import sys
import numpy as np
from vision.mujoco_render import RenderConfig, make_env, render_frame
env = make_env(RenderConfig(textured=True, width=64, height=64))
env.reset(seed=0)
np.save(sys.argv[1], render_frame(env))
env.close()
"""


@pytest.mark.slow
def test_egl_and_osmesa_render_the_same_frame(tmp_path):
    """Each backend in a fresh process (the choice is per process); software GL either way."""
    import subprocess
    import sys
    from pathlib import Path

    repo = Path(__file__).resolve().parents[2]
    frames = {}
    for backend in mujoco_render.GL_BACKENDS:
        if not mujoco_render._probe(backend):
            continue
        env = dict(os.environ, MUJOCO_GL=backend, PYOPENGL_PLATFORM=backend,
                   PYTHONPATH=os.pathsep.join([str(repo), os.environ.get("PYTHONPATH", "")]))
        out = tmp_path / f"{backend}.npy"
        done = subprocess.run([sys.executable, "-c", RENDER_ONE, str(out)], env=env, capture_output=True,
                              text=True, timeout=120, check=False)
        assert done.returncode == 0, done.stderr[-2000:]
        frames[backend] = np.load(out).astype(int)
    assert frames, "no headless GL backend works"
    for frame in frames.values():
        assert frame.shape == (64, 64, 3) and frame.std() > 10
    if len(frames) == 2:
        assert np.abs(frames["egl"] - frames["osmesa"]).mean() < 3.0


def test_asset_check_follows_compiler_dirs(tmp_path):
    (tmp_path / "tex").mkdir()
    (tmp_path / "tex" / "a.png").write_bytes(b"png")
    xml = tmp_path / "m.xml"
    xml.write_text('<mujoco><compiler texturedir="tex" meshdir="meshes"/><asset>'
                   '<texture name="a" type="2d" file="a.png"/><mesh name="m" file="m.stl"/></asset></mujoco>')
    with pytest.raises(FileNotFoundError, match=r"mesh file 'm.stl'.*meshes"):
        check_xml_assets(xml)
    (tmp_path / "meshes").mkdir()
    (tmp_path / "meshes" / "m.stl").write_bytes(b"stl")
    assert check_xml_assets(xml) == [tmp_path / "tex" / "a.png", tmp_path / "meshes" / "m.stl"]
    xml.write_text("<mujoco><asset>")
    with pytest.raises(ValueError, match="not valid XML"):
        check_xml_assets(xml)
