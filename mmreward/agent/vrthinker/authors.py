"""The select_frames protocol as the authors' own code runs it.

Source: qunzhongwang/VideoSearch-Reasoner (the authors' earlier code for VR-Thinker),
grpo_train/openrlhf/trainer/ppo_utils/experience_maker.py [EM below]:
- `SelectFrames` (a qwen-agent BaseTool registered as "select_frames"): its description and JSON
  schema, and the Nous function-calling system prompt qwen-agent builds from it
  (`NousFnCallPrompt.preprocess_fncall_messages` appends "\\n\\n" + FN_CALL_TEMPLATE to the system
  message "You are a helpful assistant."; qwen-agent 0.0.26's `BaseTool.function` is
  {name, description, parameters});
- `parse_last_tool`: the JSON between the last "<tool_call>" and the next "</tool_call>";
- `execute_tool`: more than 8 frames, or a frame past the last, is refused with a message; the
  frames are taken 1-based (`[x - 1 for x in tgt]`);
- the tool's answer is a *user* turn starting "After selecting frames:" (images after the text);
- the window: before each generation every earlier "After selecting frames:" turn loses its images
  (their vision tokens are cut from the prompt; the training copy writes "< No Focus >" instead);
- limits: `--max_chain_length 3` tool calls (scripts/training.sh, sampling.sh), then the episode
  ends; 12 * 1024 - 200 tokens of prompt + completion; `--max_out_tokens 2048` per turn;
- a reply is cut after its first "</tool_call>"; a reply that does not end with one ends the episode.
"""
from __future__ import annotations

import json

TOOL_NAME = "select_frames"
TOOL_DESCRIPTION = "Select frames from a video."  # EM SelectFrames.description
SYSTEM_MESSAGE = "You are a helpful assistant."  # EM get_required_messages


def tool_schema(max_frames: int, num_frames: int) -> dict:
    """EM `SelectFrames.parameters` (verbatim for 8 frames per call and 96 frames)."""
    return {
        "type": "object",
        "properties": {
            "target_frames": {
                "type": "array",
                "description": f"List of frame indices to select from the video (no more than {max_frames} "
                               "frames in total).",
                "items": {"type": "integer", "description": f"Frame index from 1 to {num_frames}."},
            }
        },
        "required": ["target_frames"],
    }


# qwen-agent qwen_agent/llm/fncall_prompts/nous_fncall_prompt.py FN_CALL_TEMPLATE, verbatim
FN_CALL_TEMPLATE = """# Tools

You may call one or more functions to assist with the user query.

You are provided with function signatures within <tools></tools> XML tags:
<tools>
{tool_descs}
</tools>

For each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:
<tool_call>
{{"name": <function-name>, "arguments": <args-json-object>}}
</tool_call>"""


def tool_system_prompt(max_frames: int, num_frames: int) -> str:
    """The system message of the authors' rollouts: "You are a helpful assistant." + "\\n\\n" + the
    Nous template over [{"type": "function", "function": {name, description, parameters}}]
    (json.dumps, ensure_ascii=False: qwen-agent's own serialisation)."""
    function = {"name": TOOL_NAME, "description": TOOL_DESCRIPTION, "parameters": tool_schema(max_frames, num_frames)}
    descs = json.dumps({"type": "function", "function": function}, ensure_ascii=False)
    return SYSTEM_MESSAGE + "\n\n" + FN_CALL_TEMPLATE.format(tool_descs=descs)


# ------------------------------------------------------------------ the tool's answers (EM, verbatim)
TOOL_PREFIX = "After selecting frames:"  # every answer of the tool starts its user turn with it
RESULT_TEXT = "\nAfter selecting frames: Here are the selected frames"  # then one image per frame


def too_many_text(selected: int, max_frames: int) -> str:
    """EM execute_tool, `len(tgt) > 8`. (EM, in training, instead keeps a random subset 3 times in 4.)"""
    return (f"You have selected {selected} frames in total. Think again which frames you need to check in "
            f"details (no more than {max_frames} frames)")


def out_of_range_text(num_frames: int) -> str:
    """EM execute_tool, `max(tgt) > len(frames)`."""
    return f"There are {num_frames} frames numbered in range [1,{num_frames}]. Your selection is out of range."


def refusal_text(message: str) -> str:
    """The user turn of a refused selection: "After selecting frames:" + "\\n" + the message."""
    return TOOL_PREFIX + f"\n{message}"


def execution_error_text(cause: str) -> str:
    """The user turn when the call cannot be run (not JSON, another tool, no target_frames, not
    integers). EM writes "\\nExecution error:\\n{error_info}\\n" without the f prefix, so its rollouts
    showed the placeholder itself; we fill in the cause it was meant to carry."""
    return TOOL_PREFIX + f"\nExecution error:\n{cause}\n"


# ------------------------------------------------------------------ limits (EM + its launch scripts)
MAX_TOOL_CALLS = 3  # --max_chain_length 3: the 4th reply ends the episode whatever it holds
MAX_TURNS = MAX_TOOL_CALLS + 1
MAX_NEW_TOKENS = 2048  # --max_out_tokens 2048 (training.sh `maxtoken`)
MAX_CONTEXT_TOKENS = 12 * 1024 - 200  # EM: cur_tokens > 12*1024-200 forces the end
FRAME_MAX_PIXELS = 1280 * 28 * 28  # sampling.sh MAX_PIXELS for evaluation rollouts
STOP_AFTER = "</tool_call>"  # EM cuts every reply after its first "</tool_call>"
NO_FOCUS = "< No Focus >"  # EM's training copy of a forgotten image; its rollouts drop it (we do too)
