"""The thinking-with-image video judge (VR-Thinker): frame-selection agent loop and its data.

    from mmreward.agent import AgentConfig, rollout
    trace = rollout(model, processor, ["a.mp4", "b.mp4"], "a red ball rolls", AgentConfig())
    trace.judgments  # {"TA": 1, "VQ": 2, "MQ": 1, "OA": 1} or None
    rollout(None, processor, videos, prompt, config, policy=fn)  # fn(messages) -> the next reply

Modules: config (AgentConfig), protocol (what is said: `vrthinker` the released VR-Thinker
protocols, `legacy` the suite's first dialect), parse (tool-call errors, the v1 parsers), episode
(the environment), frames (FrameStore, materialize), context (memory window per turn: what training
must reproduce), kv (cache reuse), batch (a group of rollouts decoded together), sampling, loop
(rollout, rollout_batch, the turn sources), trace (Trace JSON), turns (an episode turn by turn, as
the model saw it), rewards (rule rewards).
"""
import importlib

#: public name -> the module defining it; imported on first use, so that importing one light module
#: of the package (config, protocol: what the model families' option specs read) imports no torch
_EXPORTS = {
    "AgentConfig": "config", "context_for_turn": "context", "turn_examples": "context",
    "Episode": "episode", "scripted_trace": "episode", "FrameStore": "frames", "materialize": "frames",
    **dict.fromkeys(("ModelTurns", "PolicyTurns", "Turn", "rollout", "rollout_batch", "run_episode"), "loop"),
    **dict.fromkeys(("ToolError", "format_valid", "parse_answer", "parse_tool_call"), "parse"),
    "PROTOCOLS": "protocol", "get_protocol": "protocol",
    **dict.fromkeys(("accuracy_reward", "format_reward", "trace_correct"), "rewards"),
    **dict.fromkeys(("Trace", "read_traces", "write_traces"), "trace"),
    "turn_records": "turns", "read_answer": "vrthinker.answers",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
