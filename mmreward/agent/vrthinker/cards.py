"""What the two model cards publish, verbatim where it could be read.

Sources (hub model cards; the stored copies end after ~2,500 characters, inside the prompt text):
- `qunwang13/vr-thinker` README, "Quick Start" script: its constants and the beginning of its
  `prompt_text` f-string (the user turn), up to "Frames and".
- `qunwang13/vrthinker` README, `infer.py`: its constants and the beginning of `SYSTEM_PROMPT`,
  up to "- Each video has 128 frames".
Everything after those points is unknown; `vrthinker.protocol` completes the texts (marked there)
and the README table says which part is which.
"""
from __future__ import annotations

# ------------------------------------------------------------------ qunwang13/vr-thinker (Quick Start)
# `N = 96` (the card); the authors' tool schema says "Frame index from 1 to 96." and their code
# (VideoSearch-Reasoner experience_maker.py) samples the first frames as `frames[::96 // 8][:8]` of one
# 96-frame list whose first four picks are Video 1 and the next four Video 2: 48 frames per video,
# numbered 1..96 across the pair.
VR_THINKER_N = 96
VR_THINKER_DIMENSIONS = (  # the card's dim_name_i, dim_explain_i, verbatim
    ("Temporal Alignment (TA)", "How well the video adheres to the temporal aspects of the prompt."),
    ("Video Quality (VQ)", "The visual and aesthetic quality of the video."),
    ("Motion Quality (MQ)", "The smoothness and realism of the motion in the video."),
)
# The card's prompt_text f-string up to where the stored page ends ("Frames and"), verbatim;
# {prompt_for_videos} and the dimension slots are the card's own placeholders.
VR_THINKER_PROMPT_HEAD = (
    "Task Description: Your task is to compare two videos generated based on the same prompt by analyzing "
    "their frames in detail and provide an overall judgment along with a judgment for each dimension.\n"
    "This involves:\n"
    "- Iterative reasoning,\n"
    "- Zooming in on details,\n"
    "- Dynamically selecting frames for further analysis.\n"
    "\n"
    "The provided frames are downsampled from these videos:\n"
    "- Video 1: First four input frames.\n"
    "- Video 2: Next four input frames.\n"
    "\n"
    "The prompt is: {prompt_for_videos}\n"
    "\n"
    "Evaluation Dimensions:\n"
    "1. **{dim_name_1}**: {dim_explain_1}\n"
    "2. **{dim_name_2}**: {dim_explain_2}\n"
    "3. **{dim_name_3}**: {dim_explain_3}\n"
    "\n"
    "Frames and"
)
# The card's `sys_prompt` starts with this line (hub PR #1 diff of the card, line 121); the rest of it
# holds the select_frames schema (`authors.tool_system_prompt`).
VR_THINKER_SYSTEM_HEAD = "You are a helpful assistant."
# Lines of an earlier revision of the card's prompt (hub PR #1 diff, lines 87-91), verbatim with the
# f-string's doubled braces undone; where they stand in the current card is unknown.
VR_THINKER_FIRST_ROUND_LINES = (
    "- Compare the videos based on the evaluation dimensions.",
    "- If differences are subtle, identify specific key moments for further comparison and request "
    "additional frames.",
    "- Use the `<tool_call>` to select up to 8 additional frames. Example:",
    '`<tool_call>{"name": "select_frames", "arguments": {"target_frames": [12, 16, 20, 24, 60, 64, 68, 72]}}'
    "</tool_call>`",
    "- Use `<recommend answer>` to output your current inclination and confidence level.",
)

# ------------------------------------------------------------------ qunwang13/vrthinker (infer.py)
FRAMES_PER_VIDEO = 128
INITIAL_PER_VIDEO = 4
MAX_TURNS = 6
MAX_FRAMES_PER_CALL = 12
IMAGE_SIDE = 448
# SYSTEM_PROMPT up to where the stored page ends, verbatim (the blank line before "Frames and
# Analysis Rules:" is inferred from the blank lines between the other sections).
VRTHINKER_SYSTEM_HEAD = (
    "Task Description:\n"
    "Your task is to compare two videos generated based on the same text prompt by analyzing their frames in "
    "detail and provide an overall judgment along with a judgment for each evaluation dimension.\n"
    "\n"
    "The provided frames are downsampled from these videos:\n"
    "- Video 1: First four input frames.\n"
    "- Video 2: Next four input frames.\n"
    "\n"
    "Evaluation Dimensions:\n"
    "1. Text Alignment (TA): How faithfully each video reflects the text prompt.\n"
    "2. Visual Quality (VQ): Aesthetics, artifacts, blurriness, distortion, color, resolution, flickering.\n"
    "3. Motion Quality (MQ): Smoothness, jitter, unnatural motion, temporal consistency.\n"
    "4. Overall Assessment (OA): Holistic judgment across the above.\n"
    "\n"
    "Frames and Analysis Rules:\n"
    "- 8 sampled frames are provided initially (4 per video), evenly downsampled from 128 frames per video. "
    "The first 4 are Video 1, the next 4 are Video 2.\n"
    "- Each video has 128 frames"
)
