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
from .config import AgentConfig
from .context import context_for_turn, turn_examples
from .episode import Episode, scripted_trace
from .frames import FrameStore, materialize
from .loop import ModelTurns, PolicyTurns, Turn, rollout, rollout_batch, run_episode
from .parse import ToolError, format_valid, parse_answer, parse_tool_call
from .protocol import PROTOCOLS, get_protocol
from .rewards import accuracy_reward, format_reward, trace_correct
from .trace import Trace, read_traces, write_traces
from .turns import turn_records
from .vrthinker.answers import read_answer

__all__ = [
    "PROTOCOLS", "AgentConfig", "Episode", "FrameStore", "ModelTurns", "PolicyTurns", "ToolError", "Trace", "Turn",
    "accuracy_reward", "context_for_turn", "format_reward", "format_valid", "get_protocol", "materialize",
    "parse_answer", "parse_tool_call", "read_answer", "read_traces", "rollout", "rollout_batch", "run_episode",
    "scripted_trace", "trace_correct", "turn_examples", "turn_records", "write_traces",
]
