"""The two released VR-Thinker protocols: "vr-thinker" (`qunwang13/vr-thinker`) and "vrthinker"
(`qunwang13/vrthinker`).

What is verbatim comes from `cards` (the cards) and `authors` (the authors' code); what the sources
do not show is completed here, each place marked RECONSTRUCTED, in the style of the visible text
(the README of this suite tabulates which is which). Both number the frames 1..N across the pair
(Video 1 first), answer each call with a user turn of the selected frames, keep only the latest
tool answer's images, and end the episode with a reply that calls no tool.
"""
from __future__ import annotations

import json
import re

from ..parse import ToolError
from ..protocol import Protocol, text_item
from . import authors, cards
from .answers import OVERALL, RECOMMEND_TAGS, Answer, blocks, final_blocks, labels_text, read_answer

CARD_DIMENSIONS = ("TA", "VQ", "MQ")
_WORDS = {1: "one", 2: "two", 3: "three", 4: "four", 5: "five", 6: "six", 7: "seven", 8: "eight"}
_FINAL_CLOSE_AT_END = re.compile(r"<\s*/\s*(final\s+answer|answer)\s*>\s*$", re.IGNORECASE)


def stride_numbers(per_video: int, initial: int, n_videos: int) -> list[int]:
    """The first frames, as the authors' code samples them: every (F // I)-th frame of each
    video from its first (EM `frames[::96 // 8][:8]` on the 96 frames of a pair), numbered 1..N."""
    step = max(1, per_video // initial)
    return [v * per_video + 1 + k * step for v in range(n_videos) for k in range(initial)]


def example_call(per_video: int, max_frames: int) -> list[int]:
    """The card's example selection [12, 16, 20, 24, 60, 64, 68, 72] (48 frames a video, 8 a call);
    the same pattern for other sizes."""
    m = max(1, min(4, max_frames // 2))
    start, step = max(1, per_video // 4), max(1, per_video // 12)
    own = [min(per_video, start + k * step) for k in range(m)]
    return own + [per_video + f for f in own]


class VRThinkerProtocol(Protocol):
    name = "vr-thinker"
    numbering = "combined"
    videos = 2
    stop_after = authors.STOP_AFTER
    dropped_as = ""  # the rollouts cut a forgotten image's tokens (authors.NO_FOCUS in their training copy)
    errors_in_window = True  # every "After selecting frames:" turn but the last loses its images
    answer_order = ("TA", "MQ", "VQ")  # EM / the paper write "TA = 1, MQ = 1, VQ = 1, OA = 1"
    answer_tag = "final answer"
    answer_sep = " = "

    def defaults(self) -> dict:
        return {"initial_frames": 4, "candidate_frames": cards.VR_THINKER_N // 2, "max_turns": authors.MAX_TURNS,
                "max_frames_per_call": 8, "memory_window": 1, "max_new_tokens": authors.MAX_NEW_TOKENS,
                "frame_max_pixels": authors.FRAME_MAX_PIXELS, "frame_side": 0,
                "max_context_tokens": authors.MAX_CONTEXT_TOKENS}

    def check(self, config) -> None:
        if sorted(config.dimensions) != sorted(CARD_DIMENSIONS):
            raise ValueError(f"the {self.name} prompt judges TA, VQ and MQ; dimensions={config.dimensions} "
                             "do not fit it")

    # ------------------------------------------------------------------ texts
    def system_text(self, config, n_videos: int) -> str:
        return authors.tool_system_prompt(config.max_frames_per_call, self.total_frames(config, n_videos))

    def user_text(self, prompt: str, config, n_videos: int) -> str:
        dims = dict(zip(CARD_DIMENSIONS, cards.VR_THINKER_DIMENSIONS))
        slots = {}
        for i, d in enumerate(CARD_DIMENSIONS, 1):
            slots[f"dim_name_{i}"], slots[f"dim_explain_{i}"] = dims[d]
        slots["prompt_for_videos"] = prompt  # last: a prompt's own braces are never filled in
        head = _initial_words(cards.VR_THINKER_PROMPT_HEAD, config.initial_frames)
        for key, value in slots.items():  # the card's f-string slots (str.format would choke on braces)
            head = head.replace("{" + key + "}", value)
        return head + self.rules_text(config, n_videos)

    def rules_text(self, config, n_videos: int) -> str:
        """RECONSTRUCTED: the card's text after "Frames and" is unknown. The first-round lines are
        the card's own (an earlier revision, hub PR #1), with this run's K and an example that fits."""
        per, n, k = config.candidate_frames, self.total_frames(config, n_videos), config.max_frames_per_call
        first = list(cards.VR_THINKER_FIRST_ROUND_LINES)
        first[2] = first[2].replace("up to 8 ", f"up to {k} ")
        first[3] = first[3].replace("[12, 16, 20, 24, 60, 64, 68, 72]", str(example_call(per, k)))
        example = self.write_answer({d: 1 for d in (*CARD_DIMENSIONS, OVERALL)}, CARD_DIMENSIONS)
        return (f" Analysis Rules:\n- {config.initial_frames * n_videos} sampled frames are provided initially "
                f"({config.initial_frames} per video), evenly downsampled from the {n} frames of the two videos: "
                f"frames 1 to {per} are Video 1, frames {per + 1} to {n} are Video 2.\n\n"
                "1. **First Round**:\n" + "\n".join(first) + "\n\n"
                "2. **Subsequent Rounds**:\n- Analyze the newly selected frames together with what you saw before; "
                "only the latest selected frames stay visible.\n"
                f"- Select more frames if needed; you have at most {config.max_turns} rounds in total.\n\n"
                "3. **Final Answer**:\n- For each dimension and overall (OA), answer 1 if Video 1 is better, "
                f"2 if Video 2 is better, 0 for a tie:\n{example}")

    def opening(self, prompt, n_videos, config):
        frames = self.frame_items(stride_numbers(config.candidate_frames, config.initial_frames, n_videos),
                                  config, n_videos)
        return [{"role": "system", "content": self.system_text(config, n_videos)},
                {"role": "user", "content": [text_item(self.user_text(prompt, config, n_videos)), *frames]}]

    def result_turn(self, numbers, config, n_videos, turns_left):
        return self.tool_turn([text_item(authors.RESULT_TEXT), *self.frame_items(numbers, config, n_videos)],
                              frames=numbers)

    def error_turn(self, error, config, turns_left):
        return self.tool_turn([text_item(error.message)], frames=[])

    # ------------------------------------------------------------------ reading the model
    def is_final(self, text: str) -> bool:
        return not text.strip().endswith(authors.STOP_AFTER)

    def end_reason(self, text: str) -> str:
        return "answer" if final_blocks(text) else "no_call"

    def read_call(self, text, config, n_videos):
        if self.is_final(text):
            return None
        body = text.split("<tool_call>")[-1].split(authors.STOP_AFTER)[0]  # EM parse_last_tool
        try:
            call = json.loads(body)
        except ValueError as exc:
            return _execution_error(f"the tool call is not valid JSON: {exc}")
        if not isinstance(call, dict) or "name" not in call or "arguments" not in call:
            return _execution_error('a tool call is {"name": ..., "arguments": {...}}')
        if call["name"] != authors.TOOL_NAME:
            return _execution_error(f"unknown tool {call['name']!r}; the only tool is {authors.TOOL_NAME}")
        args = call["arguments"]
        frames = args.get("target_frames") if isinstance(args, dict) else None
        if not isinstance(frames, list):
            return _execution_error("arguments must hold target_frames, a list of frame numbers")
        if len(frames) > config.max_frames_per_call:  # checked first, as EM does
            return ToolError(authors.refusal_text(authors.too_many_text(len(frames), config.max_frames_per_call)))
        if not frames or not all(isinstance(f, int) and not isinstance(f, bool) for f in frames):
            return _execution_error("target_frames must be a non-empty list of whole numbers")
        total = self.total_frames(config, n_videos)
        if max(frames) > total or min(frames) < 1:  # EM checks only the top; 0 and below would wrap around
            return ToolError(authors.refusal_text(authors.out_of_range_text(total)))
        return frames

    def read_answer(self, texts, dims) -> Answer:
        return read_answer("\n".join(texts))

    def format_valid(self, trace, dims) -> bool:
        """RECONSTRUCTED from EM's format check: every tool-calling reply states its inclination
        (<recommend answer>) before the call, the last reply holds exactly one closed final answer
        with every label and ends with it, and no call was refused. (EM also checks its
        <synthesis>/<think> tags; their names differ between the code and the paper, so they are
        not required here.)"""
        if trace.stop_reason != "answer" or trace.tool_errors or not trace.turns:
            return False
        last = trace.turns[-1]
        finals = final_blocks(last)
        if len(finals) != 1 or not finals[0][2] or not _FINAL_CLOSE_AT_END.search(last):
            return False
        if not read_answer(last).complete(dims) or "<tool_call>" in last:
            return False
        return all(self._states_inclination(t) for t in trace.turns[:-1])

    def _states_inclination(self, text: str) -> bool:
        return any(tag in RECOMMEND_TAGS for tag, _, _ in blocks(text.split("<tool_call>")[0]))

    # ------------------------------------------------------------------ writing as the model
    def write_call(self, numbers, dims, note="", inclination=None):
        leaning = labels_text(inclination or {d: 0 for d in (*dims, OVERALL)}, self.answer_order)
        call = json.dumps({"name": authors.TOOL_NAME, "arguments": {"target_frames": list(numbers)}})
        think = f"<think>{note}</think>\n" if note else ""
        return f"{think}<recommend answer>{leaning}</recommend answer>\n<tool_call>{call}</tool_call>"

    def write_answer(self, labels, dims, note=""):
        think = f"<think>{note}</think>\n" if note else ""
        body = labels_text(labels, self.answer_order, self.answer_sep)
        tag = self.answer_tag
        return f"{think}<{tag}>{body}</{tag}>"


class VRThinkerCardProtocol(VRThinkerProtocol):
    """`qunwang13/vrthinker`: its infer.py constants and SYSTEM_PROMPT; the tool answers, window and
    ending are the authors' (RECONSTRUCTED: the card's loop is not readable)."""

    name = "vrthinker"
    answer_order = ("TA", "VQ", "MQ")
    answer_tag = "Answer"
    answer_sep = "="

    def defaults(self) -> dict:
        return {"initial_frames": cards.INITIAL_PER_VIDEO, "candidate_frames": cards.FRAMES_PER_VIDEO,
                "max_turns": cards.MAX_TURNS, "max_frames_per_call": cards.MAX_FRAMES_PER_CALL, "memory_window": 1,
                "max_new_tokens": authors.MAX_NEW_TOKENS, "frame_max_pixels": 0, "frame_side": cards.IMAGE_SIDE,
                "max_context_tokens": 0}

    def system_text(self, config, n_videos):
        per, n, k = config.candidate_frames, self.total_frames(config, n_videos), config.max_frames_per_call
        head = _initial_words(cards.VRTHINKER_SYSTEM_HEAD, config.initial_frames)
        head = (head.replace("- 8 sampled frames are provided initially (4 per video)",
                             f"- {config.initial_frames * n_videos} sampled frames are provided initially "
                             f"({config.initial_frames} per video)")
                .replace("The first 4 are Video 1, the next 4 are Video 2.",
                         f"The first {config.initial_frames} are Video 1, the next {config.initial_frames} are Video 2.")
                .replace("128 frames", f"{per} frames"))
        example = json.dumps({"name": authors.TOOL_NAME, "arguments": {"target_frames": example_call(per, k)}})
        answer = self.write_answer({"TA": 1, "VQ": 1, "MQ": 0, "OA": 1}, CARD_DIMENSIONS)
        # RECONSTRUCTED from here on: the card's text after "- Each video has 128 frames" is unknown
        return (head + f": frames 1 to {per} are Video 1, frames {per + 1} to {n} are Video 2.\n"
                f"- To see more frames, call select_frames with up to {k} frame numbers:\n"
                f"<tool_call>{example}</tool_call>\n"
                "- The selected frames are returned to you; only the latest selection stays visible.\n"
                f"- You have at most {config.max_turns} rounds.\n\n"
                "Output Format:\nReason step by step, then label each dimension and overall (OA): 1 if Video 1 "
                f"is better, 2 if Video 2 is better, 0 for a tie:\n{answer}")

    def user_text(self, prompt, config, n_videos):
        return f"Text prompt: {prompt}"  # RECONSTRUCTED: the card's user turn is not readable

    def _states_inclination(self, text: str) -> bool:
        return True  # the card's format for tool-calling replies is unknown: none is required


def _execution_error(cause: str) -> ToolError:
    return ToolError(authors.execution_error_text(cause))


def _initial_words(text: str, initial: int) -> str:
    """The cards say "four input frames": keep that true when a run shows another number."""
    if initial == 4:
        return text
    word = _WORDS.get(initial, str(initial))
    return text.replace("First four input frames", f"First {word} input frames").replace(
        "Next four input frames", f"Next {word} input frames")
