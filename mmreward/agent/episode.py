"""The environment side of a rollout, without any model: turns assistant texts into a trace.

`Episode` starts the conversation (the protocol's system prompt and first user turn), and for each
assistant text decides, by its protocol (`agent.protocol`): a reply that ends the episode (an answer;
for the published protocol, any reply that calls no tool) is read for the verdict; a select_frames
call is executed (a tool-result user turn with the frames asked for) or refused (the protocol's
error turn); otherwise the protocol's reminder. After `max_turns` assistant turns, or once a turn's
prompt and reply pass `max_context_tokens`, the episode ends whatever was said. The agent loop feeds
it sampled texts, a scripted policy or a script feeds it others: all produce the same messages.
"""
from __future__ import annotations

from .config import AgentConfig
from .parse import ToolError
from .trace import Trace


class Episode:
    def __init__(self, prompt: str, videos: list, config: AgentConfig, id: str | None = None):
        self.config, self.protocol = config, config.speaks
        self.n_videos = len(videos)
        if self.n_videos < 1:
            raise ValueError("the agent needs at least one video")
        if self.protocol.videos is not None and self.n_videos != self.protocol.videos:
            raise ValueError(f"the {self.protocol.name} protocol compares {self.protocol.videos} videos, "
                             f"got {self.n_videos}")
        self.trace = Trace(id=id, prompt=prompt, videos=[str(v) for v in videos],
                           messages=self.protocol.opening(prompt, self.n_videos, config), protocol=self.protocol.name)
        self.done = False

    @property
    def turns_used(self) -> int:
        return len(self.trace.turns)

    def step(self, text: str, context_tokens: int | None = None) -> bool:
        """Record assistant `text` and the environment's reply; True when the episode is over.
        `context_tokens`: the tokens of this turn's prompt and reply, when the caller counted them."""
        if self.done:
            raise RuntimeError("the episode is over")
        t, p, cfg = self.trace, self.protocol, self.config
        text = p.clean(text)
        t.turns.append(text)
        t.messages.append({"role": "assistant", "content": text})
        turns_left = cfg.max_turns - self.turns_used
        if p.is_final(text):
            return self._finish(p.end_reason(text))
        if turns_left == 0:
            return self._finish("max_turns")
        if cfg.max_context_tokens and context_tokens is not None and context_tokens > cfg.max_context_tokens:
            return self._finish("max_tokens")
        call = p.read_call(text, cfg, self.n_videos)
        if isinstance(call, ToolError):
            t.tool_errors.append(call.message)
            t.messages.append(p.error_turn(call, cfg, turns_left))
        elif call is None:
            t.tool_errors.append("no tool call or answer")
            t.messages.append(p.reminder_turn(cfg, turns_left))
        else:
            result = p.result_turn(call, cfg, self.n_videos, turns_left)
            t.selected_frames.append([{k: item[k] for k in ("video", "frame", "number")}
                                      for item in result["content"] if item.get("type") == "image"])
            t.messages.append(result)
        return False

    def _finish(self, reason: str) -> bool:
        t, dims = self.trace, self.config.dimensions
        t.stop_reason = reason
        answer = self.protocol.read_answer(t.turns, dims)
        if answer.labels:  # in the dimensions' order, OA last, whatever order the reply used
            order = [*dims, "OA"]
            rank = {k: i for i, k in enumerate(order)}
            t.judgments = {k: answer.labels[k] for k in sorted(answer.labels, key=lambda k: rank.get(k, len(order)))}
            t.answer_source = answer.source
        t.format_valid = self.protocol.format_valid(t, dims)
        self.done = True
        return True


def scripted_trace(prompt: str, videos: list, texts: list[str], config: AgentConfig,
                   id: str | None = None, labels: dict | None = None) -> Trace:
    """The trace an agent writing exactly `texts` would produce (no model, no decoding)."""
    ep = Episode(prompt, videos, config, id=id)
    for text in texts:
        if ep.step(text):
            break
    if not ep.done:
        raise ValueError(f"the script ended after {ep.turns_used} turns without finishing the episode")
    ep.trace.labels = labels
    return ep.trace
