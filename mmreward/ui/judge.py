"""Side-by-side judging of one pair of images or videos: the non-UI half of `app.py`.

Finds the example media in the shared data directory, stages two uploaded files
into a fresh media root, scores them with a loaded `RewardModel`, optionally runs
the frame-selection agent on a video pair, and turns outputs into table rows.
Every failure a user can cause comes back as a readable `error` string.
"""
from __future__ import annotations

import csv
import logging
import os
import re
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path

log = logging.getLogger(__name__)

SHARED_DATA_ENV = "MMREWARD_SHARED_DATA"
SIDES = ("A", "B")
KINDS = {"images": "image", "videos": "video"}

IMAGE_PROMPTS = {  # curated prompts for the two real photos in shared/data/images
    "extreme_ironing.jpg": "A man ironing clothes on an ironing board on the back of a yellow taxi "
                           "in city traffic.",
    "waterview.jpg": "A wooden pier stretching into a calm lake, pine forest and mountains in the "
                     "background.",
}


class InputError(ValueError):
    """Something the user gave (or forgot) that cannot be judged."""


def shared_data_dir(repo_root: str | os.PathLike | None = None) -> Path | None:
    """`$MMREWARD_SHARED_DATA`, else `<repo>/../shared/data`; None when it does not exist."""
    env = os.environ.get(SHARED_DATA_ENV)
    if env:
        path = Path(env)
    else:
        root = Path(repo_root) if repo_root else Path(__file__).resolve().parents[1]
        path = root / ".." / "shared" / "data"
    return path.resolve() if path.is_dir() else None


def image_examples(data: Path | None) -> list[list[str]]:
    """Rows [image_a, image_b, prompt, criteria] built from the photos in `data/images`."""
    folder = data / "images" if data else None
    if not folder or not folder.is_dir():
        return []
    photos = sorted(p for p in folder.iterdir()
                    if p.suffix.lower() in {".jpg", ".jpeg", ".png", ".webp"} and p.is_file())
    rows = []
    for i, a in enumerate(photos):
        b = photos[(i + 1) % len(photos)]
        if a == b:
            break
        prompt = IMAGE_PROMPTS.get(a.name, f"A photo like {a.stem.replace('_', ' ')}.")
        rows.append([str(a), str(b), prompt, "faithfulness to the prompt" if i % 2 else ""])
    return rows


def video_examples(data: Path | None) -> tuple[list[list[str]], list[str]]:
    """Rows [video_a, video_b, prompt, criteria] and their labels (with the human VQ/MQ/TA votes)
    from the VideoAlign example CSV; duplicate rows are dropped, missing files skipped."""
    folder = data / "videos" / "videoalign-examples" if data else None
    table = folder / "example.csv" if folder else None
    if not table or not table.is_file():
        return [], []
    rows, labels, seen = [], [], set()
    with open(table, newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            # the CSV's paths are relative to a layout we do not have: find the files by name
            paths = [folder / Path(row.get(k) or "").name for k in ("path_A", "path_B")]
            key = (*paths, row.get("prompt", ""))
            if key in seen or not all(p.is_file() for p in paths):
                continue
            seen.add(key)
            rows.append([str(paths[0]), str(paths[1]), row.get("prompt", ""), ""])
            votes = ", ".join(f"{d}: {row[d]}" for d in ("VQ", "MQ", "TA") if row.get(d))
            labels.append(f"{paths[0].stem.rsplit('_', 1)[0].replace('_', ' ')} (humans: {votes})")
    return rows, labels


def agent_available() -> bool:
    """Whether the frame-selection agent (`mmreward.agent`) is installed."""
    try:
        import mmreward.agent.config  # noqa: F401
        import mmreward.agent.loop  # noqa: F401
    except ImportError:
        return False
    return True


def _path_and_name(upload) -> tuple[str | None, str | None]:
    """A file from the UI: a path string or Gradio's FileData-like dict."""
    if upload is None or upload == "":
        return None, None
    if isinstance(upload, dict):
        path = upload.get("path")
        return path, upload.get("orig_name") or (Path(path).name if path else None)
    return str(upload), Path(str(upload)).name


@contextmanager
def staged(uploads: list, kind: str):
    """Copy the two uploads into a fresh temporary media root as A.ext / B.ext.

    Yields (root, staged names, original names); the root is removed afterwards.
    Copies rather than links so the media root's symlink confinement holds.
    """
    noun = KINDS[kind]
    files = [_path_and_name(u) for u in uploads]
    missing = [s for s, (p, _) in zip(SIDES, files) if not p]
    if missing:
        raise InputError(f"please provide both {kind} (missing: {noun} {' and '.join(missing)})")
    root = Path(tempfile.mkdtemp(prefix="mmreward-judge-"))
    try:
        names = []
        for side, (path, orig) in zip(SIDES, files):
            if not Path(path).is_file():
                raise InputError(f"{noun} {side} ('{orig}') was not received; please upload it again")
            suffix = re.sub(r"[^a-z0-9.]", "", Path(orig or path).suffix.lower())[:10]
            name = side + suffix  # the readers look at the extension, so keep it
            shutil.copyfile(path, root / name)
            names.append(name)
        yield root, names, [orig for _, orig in files]
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _readable(message: str, root: Path, names: list[str], origs: list[str], kind: str) -> str:
    """Say 'video A ('clip.mp4')' where the scorer said 'candidate 0: video 'A.mp4''."""
    noun = KINDS[kind]
    for i, (name, orig) in enumerate(zip(names, origs)):
        message = message.replace(f"candidate {i}: ", "")
        for full in {str(root / name), str((root / name).resolve())}:  # no temp paths on the page
            message = message.replace(f" '{full}'", "").replace(full, name)
        message = message.replace(f"{noun} '{name}'", f"{noun} {SIDES[i]} ('{orig}')")
        message = message.replace(f"'{name}'", f"{noun} {SIDES[i]} ('{orig}')")
    return message


def judge_pair(rm, kind: str, uploads: list, prompt: str | None, criteria: str | None = None,
               agent: bool = False, agent_config=None) -> dict:
    """Score two images or videos for `prompt`; never raises for bad input.

    Returns the scorer's output dict (rewards, preferred, dimensions?, p_yes?) plus
    `names` (the files as uploaded), or {"error": "..."}; with `agent=True` (videos)
    also `agent`: the frame-selection agent's trace summary or its error.
    """
    if kind not in KINDS:
        return {"error": f"unknown kind {kind!r}; use images or videos"}
    try:
        prompt = (prompt or "").strip()
        if not prompt:
            raise InputError("please type a prompt: the rewards say how well each candidate fits it")
        with staged(uploads, kind) as (root, names, origs):
            record = {"id": "judge", "prompt": prompt,
                      "candidates": [{kind: [name]} for name in names]}
            if criteria and criteria.strip():
                record["criteria"] = criteria.strip()
            out = rm.score([record], media_root=str(root), batch_size=2)[0]
            if "error" in out:
                return {"error": _readable(out["error"], root, names, origs, kind)}
            out = {**out, "names": origs}
            out.pop("id", None)
            if agent and kind == "videos":
                out["agent"] = run_agent(rm, root, names, prompt, agent_config)
            return out
    except InputError as exc:
        return {"error": str(exc)}
    except Exception as exc:  # noqa: BLE001 - a UI must answer, not crash; the log keeps the trace
        log.exception("judging failed")
        return {"error": f"scoring failed ({type(exc).__name__}: {exc})"}


def result_rows(result: dict) -> list[tuple[str, float | None, float | None]]:
    """(label, value for A, value for B) rows: reward, each dimension, P(yes)."""
    rows = [("reward", *result["rewards"][:2])]
    for dim, values in (result.get("dimensions") or {}).items():
        rows.append((dim, *(list(values) + [None])[:2]))
    if result.get("p_yes") is not None:
        rows.append(("P(yes)", *(list(result["p_yes"]) + [None])[:2]))
    return rows


# ---------------------------------------------------------------- the frame-selection agent

VERDICTS = {1: "A", 2: "B", 0: "tie"}  # the agent answers 1 = first video, 2 = second, 0 = tie


def _text_of(content) -> str:
    """The text of a chat message: a string, or typed parts whose image references become [image]."""
    if isinstance(content, str):
        return content
    return "".join(p.get("text", "") if p.get("type") == "text" else f"[{p.get('type', '?')}]"
                   for p in content or [] if isinstance(p, dict))


def run_agent(rm, root: Path, names: list[str], prompt: str, config=None) -> dict:
    """Roll the frame-selection agent (mmreward.agent) out on the staged video pair.

    Returns {"turns": [(role, text)] (the conversation after the system prompt),
    "frames": [(PIL image, caption)] (every frame it selected, each once), "judgments"
    ({dimension: "A" | "B" | "tie"} or None), "format_valid", "stop_reason", "tool_errors",
    "trace" (its turns as the model saw them, `mmreward.agent.turns`)}, or {"error": "..."}.
    """
    try:
        from mmreward.agent import AgentConfig, rollout
        from mmreward.agent.frames import FrameStore
        from mmreward.agent.turns import turn_records

        cfg = config or AgentConfig()
        trace = rollout(rm.module.backbone, rm.processor, list(names), prompt, cfg, media_root=str(root))
        picks = list(dict.fromkeys((s["video"], s["frame"], s.get("number", s["frame"]))
                                   for call in trace.selected_frames for s in call))
        with FrameStore.for_config(list(names), cfg, root) as store:
            frames = [(store.image(v, f), f"video {SIDES[v]}, frame {f}/{cfg.candidate_frames}"
                       + (f" (#{n})" if n != f else "")) for v, f, n in picks]
        return {"turns": [(m["role"], _text_of(m.get("content"))) for m in trace.messages
                          if m.get("role") != "system"],
                "frames": frames,
                "judgments": {d: VERDICTS.get(v, str(v)) for d, v in trace.judgments.items()}
                if trace.judgments else None,
                "format_valid": trace.format_valid, "stop_reason": trace.stop_reason,
                "tool_errors": list(trace.tool_errors),
                "trace": [turn_records(trace, cfg.memory_window, rm.processor)]}
    except Exception as exc:  # noqa: BLE001 - the rewards above still stand
        log.exception("agent rollout failed")
        return {"error": f"the agent failed ({type(exc).__name__}: {exc})"}
