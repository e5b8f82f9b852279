"""mmreward side-by-side judge: two images or two videos, one prompt; which does the reward model prefer?

    python app.py [--model tiny|DIR|HUB_ID] [--mode scalar|generative] [--host H] [--port P]

Without --model it runs the offline tiny model (random weights: the scores are noise).
--host / --port default to Gradio's GRADIO_SERVER_NAME / GRADIO_SERVER_PORT, then 127.0.0.1:7860.
Examples come from ../shared/data (or $MMREWARD_SHARED_DATA) when it exists.
The scoring logic lives in mmreward/ui/judge.py; this file is only the page.
"""
from __future__ import annotations

import html
import logging
import sys
from dataclasses import dataclass, field
from pathlib import Path

from mmreward.commands.common import JudgeOptions, load_model
from mmreward.commands.parsing import Command, parse
from mmreward.errors import MissingExtraError, MmrewardError, require
from mmreward.models.options import ModelOptions
from mmreward.ui import judge

try:
    gr = require("gradio", "app", "the Gradio judge")
except MissingExtraError as exc:
    raise SystemExit(f"app.py: {exc}") from None

REPO = Path(__file__).resolve().parent
TITLE = "mmreward · side-by-side judge"


@dataclass
class AppConfig:
    _argument_group_name = "server"

    host: str | None = field(default=None, metadata={
        "help": "bind address (default: $GRADIO_SERVER_NAME, else 127.0.0.1)"})
    port: int | None = field(default=None, metadata={"help": "port (default: $GRADIO_SERVER_PORT, else 7860)"})
    concurrency: int = field(default=1, metadata={"help": "requests scored at the same time"})
    max_queue: int = field(default=32, metadata={"help": "requests allowed to wait in the queue"})


def parse_args(argv=None) -> tuple[ModelOptions, JudgeOptions, AppConfig]:
    return tuple(parse(COMMAND, sys.argv[1:] if argv is None else list(argv), prog="app.py"))


def _esc(text: str) -> str:
    """Text from users or files, made inert for Markdown (no HTML, no table breaks)."""
    return html.escape(str(text), quote=False).replace("|", "\\|").replace("`", "'")


def fmt(value) -> str:
    """How the page writes a score (the tests look for exactly this text)."""
    return "—" if value is None else f"{value:.4f}"


def model_banner(rm, name: str) -> str:
    info = rm.info
    dims = ", ".join(info.get("dimensions") or []) or "none"
    text = f"**Model:** `{name}` · **mode:** {getattr(rm, 'mode', info.get('kind'))} · **dimensions:** {dims}"
    if info.get("family"):
        text += f" · **released model:** {info['family']}"
    if info.get("untrained_head") and str(name) != "tiny":
        text += ("  \n⚠️ This checkpoint has **no trained reward head**: its scalar scores come from a "
                 "freshly initialised head and mean nothing.")
    if str(name) == "tiny":
        text += ("  \n⚠️ This is the offline **tiny** model with **random weights: its scores are noise**. "
                 "It shows the plumbing only; start the app with `--model DIR_OR_HUB_ID` for a real judge.")
    return text


def p_yes_note(rm) -> str:
    if getattr(rm, "mode", None) != "generative":  # released judges have no P(yes)
        return ""
    c = rm.config
    if c.form == "pointwise":
        return "P(yes): the model's probability of *yes* to “does this candidate fit the prompt?”."
    note = "P(yes) of *yes* to “is A better than B?” (column A)"
    if c.both_orders:
        note += ", and asked with the two swapped, “is B better than A?” (column B); reward A = (P_A + 1 − P_B) / 2"
    return note + "."


def result_markdown(result: dict, rm, kind: str) -> str:
    if "error" in result:
        return f"### ⚠️ Cannot judge this pair\n{_esc(result['error'])}"
    rewards, names = result["rewards"], [_esc(n or "") for n in result.get("names", ["", ""])]
    noun = judge.KINDS[kind]
    side = result.get("preferred")
    if side is None:  # the output contract's tie: equal rewards, or the judge's tie verdict
        verdict = "### Preferred: tie (equal rewards)"
    else:
        verdict = f"### Preferred: {noun} {judge.SIDES[side]} (`{names[side]}`)"
    lines = [verdict, "", f"| | Candidate A · `{names[0]}` | Candidate B · `{names[1]}` |",
             "|---|---:|---:|"]
    for label, a, b in judge.result_rows(result):
        lines.append(f"| {label} | {fmt(a)} | {fmt(b)} |")
    note = p_yes_note(rm)
    lines += [f"\n<small>{note}</small>"] if note else []
    if result.get("rationales"):
        asked = ["candidate A", "candidate B"] if rm.config.form == "pointwise" else ["A vs B", "B vs A"]
        for label, text in zip(asked, result["rationales"]):
            lines.append(f"\n**Rationale ({label}):** {_esc(text) or '(empty)'}")
    for q, turns in enumerate(result.get("trace") or []):  # an agent judge's episode, turn by turn
        lines.append(f"\n**Episode{f' {q + 1}' if len(result['trace']) > 1 else ''}** ({len(turns)} turns)")
        for i, turn in enumerate(turns, 1):
            shown = ", ".join(f"{judge.SIDES[f['video'] - 1]}{f['frame']}" for f in turn["frames"])
            lines.append(f"\n_Turn {i}: shown frames {shown or 'none'}_\n"
                         f"<pre style='white-space: pre-wrap'>{html.escape(turn['assistant'][:4000])}</pre>")
            if turn.get("tool") is not None:
                lines.append(f"_Tool:_ {_esc(turn['tool'].strip())}")
    for i, text in enumerate(result.get("judge_text") or []):  # a released judge's own answer
        parsed = (result.get("verdict_parsed") or [True] * (i + 1))[i]
        label = "Judge's answer" if len(result["judge_text"]) == 1 else f"Judge's answer ({judge.SIDES[i]})"
        flag = "" if parsed else " (no verdict found in it: the official rule's default applies)"
        lines.append(f"\n**{label}{flag}:**\n<pre style='white-space: pre-wrap'>{html.escape(text[:4000])}</pre>")
    return "\n".join(lines)


def agent_views(result: dict):
    """(markdown of the agent's turns and verdict, gallery items) for the agent accordion."""
    trace = result.get("agent")
    if not trace:
        return "", []
    if "error" in trace:
        return f"⚠️ {_esc(trace['error'])}", []
    verdict = ", ".join(f"{d}: {v}" for d, v in (trace.get("judgments") or {}).items()) or "no valid answer"
    parts = [f"**Agent's judgments** (video 1 = A, video 2 = B): {verdict} · **format valid:** "
             f"{trace.get('format_valid')} · **stopped by:** {trace.get('stop_reason') or '—'}"]
    for i, (role, text) in enumerate(trace["turns"], 1):
        text = html.escape(text.strip()[:4000]) or "(empty)"
        parts.append(f"**{i}. {_esc(role)}**\n\n<pre style='white-space: pre-wrap'>{text}</pre>")
    frames = trace.get("frames") or []
    if not frames:
        parts.append("_The agent selected no frames._")
    return "\n\n".join(parts), [(img, cap) for img, cap in frames]


def build_app(rm, model_name: str = "tiny", data: Path | None = None, concurrency: int = 1,
              max_queue: int = 32, agent_config=None) -> gr.Blocks:
    """The two-tab page around a loaded reward model (queued; `concurrency` requests at a time).
    `agent_config`: the frame-selection agent's AgentConfig (default: the agent's defaults)."""
    data = data if data is not None else judge.shared_data_dir(REPO)
    with_agent = judge.agent_available() and hasattr(rm, "module")  # the agent drives a Qwen-VL policy

    def score_images(image_a, image_b, prompt, criteria):
        result = judge.judge_pair(rm, "images", [image_a, image_b], prompt, criteria)
        return result_markdown(result, rm, "images"), _public(result)

    def score_videos(video_a, video_b, prompt, criteria, use_agent):
        result = judge.judge_pair(rm, "videos", [video_a, video_b], prompt, criteria,
                                  agent=bool(use_agent) and with_agent, agent_config=agent_config)
        trace_md, frames = agent_views(result)
        return (result_markdown(result, rm, "videos"), _public(result),
                gr.update(value=trace_md, visible=bool(trace_md)), frames)

    with gr.Blocks(title=TITLE) as demo:
        gr.Markdown(f"# {TITLE}\nTwo candidates, one prompt: the reward model scores both and says which "
                    "it prefers. Optional criteria (e.g. *visual quality*, *motion*) are passed to the judge.")
        gr.Markdown(model_banner(rm, model_name), elem_id="model_banner")
        with gr.Tab("Images", id="images"):
            with gr.Row():
                img_a = gr.Image(label="Image A", type="filepath", sources=["upload", "clipboard"],
                                 height=300, elem_id="image_a")
                img_b = gr.Image(label="Image B", type="filepath", sources=["upload", "clipboard"],
                                 height=300, elem_id="image_b")
            img_prompt = gr.Textbox(label="Prompt", lines=2, elem_id="image_prompt",
                                    placeholder="What should the images show?")
            img_criteria = gr.Textbox(label="Criteria (optional)", elem_id="image_criteria",
                                      placeholder="e.g. faithfulness to the prompt, realism")
            img_button = gr.Button("Score images", variant="primary", elem_id="score_images")
            img_result = gr.Markdown(elem_id="image_result")
            with gr.Accordion("Raw output", open=False):
                img_json = gr.JSON(label="score output")
            image_rows = judge.image_examples(data)
            _examples(image_rows, None, [img_a, img_b, img_prompt, img_criteria])
        with gr.Tab("Videos", id="videos"):
            with gr.Row():
                vid_a = gr.Video(label="Video A", sources=["upload"], height=300, elem_id="video_a")
                vid_b = gr.Video(label="Video B", sources=["upload"], height=300, elem_id="video_b")
            vid_prompt = gr.Textbox(label="Prompt", lines=2, elem_id="video_prompt",
                                    placeholder="What should the videos show?")
            vid_criteria = gr.Textbox(label="Criteria (optional)", elem_id="video_criteria",
                                      placeholder="e.g. visual quality, motion quality, text alignment")
            use_agent = gr.Checkbox(label="run the frame-selection agent (slower: the model reasons over "
                                          "frames it picks itself)", value=False, visible=with_agent)
            vid_button = gr.Button("Score videos", variant="primary", elem_id="score_videos")
            vid_result = gr.Markdown(elem_id="video_result")
            with gr.Accordion("Frame-selection agent", open=True, visible=with_agent):
                agent_md = gr.Markdown(visible=False, elem_id="agent_trace")
                agent_frames = gr.Gallery(label="frames the agent selected", columns=6, height="auto")
            with gr.Accordion("Raw output", open=False):
                vid_json = gr.JSON(label="score output")
            video_rows, labels = judge.video_examples(data)
            _examples(video_rows, labels, [vid_a, vid_b, vid_prompt, vid_criteria])
        if data is None:
            gr.Markdown(f"_No shared data found (looked for ../shared/data; set ${judge.SHARED_DATA_ENV}): "
                        "no examples, upload your own files._")

        # preprocess=False: uploads reach judge.py as raw file payloads, so a corrupt image or a
        # non-video file gets judge.py's readable message instead of a failure inside Gradio.
        img_button.click(score_images, [img_a, img_b, img_prompt, img_criteria], [img_result, img_json],
                         api_name="score_images", preprocess=False, concurrency_id="model")
        vid_button.click(score_videos, [vid_a, vid_b, vid_prompt, vid_criteria, use_agent],
                         [vid_result, vid_json, agent_md, agent_frames], api_name="score_videos",
                         preprocess=False, concurrency_id="model")  # both tabs share one model: one limit
    demo.queue(max_size=max_queue, default_concurrency_limit=concurrency)
    demo.example_files = [p for rows in (image_rows, video_rows) for r in rows for p in r[:2]]  # to serve
    return demo


def _examples(rows, labels, inputs) -> None:
    if rows:
        gr.Examples(examples=rows, inputs=inputs, example_labels=labels, cache_examples=False,
                    label="Examples (real media from shared/data)")


def _public(result: dict) -> dict:
    """The JSON shown under 'Raw output': the scorer's dict without the agent's images."""
    out = {k: v for k, v in result.items() if k != "agent"}
    if isinstance(result.get("agent"), dict):
        agent = result["agent"]
        out["agent"] = {k: v for k, v in agent.items() if k != "frames"}
        out["agent"]["frames"] = [cap for _, cap in agent.get("frames", [])]
    return out


def launch(model: ModelOptions, judging: JudgeOptions, cfg: AppConfig) -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        rm = load_model(model, judging)
    except Exception as exc:  # noqa: BLE001 - a bad --model is a user error: say so, no traceback
        raise SystemExit(f"app.py: cannot load model {model.model!r}: {type(exc).__name__}: {exc}") from None
    demo = build_app(rm, model.model, concurrency=cfg.concurrency, max_queue=cfg.max_queue)
    # None lets Gradio read GRADIO_SERVER_NAME / GRADIO_SERVER_PORT itself
    demo.launch(server_name=cfg.host, server_port=cfg.port, allowed_paths=demo.example_files,
                max_file_size="500mb")


COMMAND = Command(configs=(ModelOptions, JudgeOptions, AppConfig), run=launch,
                  description=__doc__.split("\n\n")[0])


def main(argv=None) -> None:
    try:
        configs = parse_args(argv)
    except MmrewardError as exc:
        raise SystemExit(f"app.py: {exc}") from None
    launch(*configs)


if __name__ == "__main__":
    main()
