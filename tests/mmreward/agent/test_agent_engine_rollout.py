"""The engine rollout (`agent.engine_rollout`, what vLLM runs) speaks the HF loop's protocol through
the same code, checked without vLLM: an engine writing a fixed reply per turn (token ids from the real
tokenizer, with text after the tool call that the HF decoders would not have generated) gives the
conversation a scripted HF episode gives, its requests are the windowed contexts rendered by the
chat template, and its replies are cut after the protocol's stop text."""
from __future__ import annotations

from mmreward.agent.config import AgentConfig
from mmreward.agent.context import context_for_turn
from mmreward.agent.engine_rollout import rollout_groups
from mmreward.agent.episode import scripted_trace
from mmreward.agent.frames import FrameStore, images_of, materialize
from mmreward.agent.loop import stop_text_end
from mmreward.agent.turns import render
from mmreward.engines.base import Completion, Engine

ANSWER = "<final answer>TA = 1, MQ = 1, VQ = 2, OA = 2</final answer>"
AFTER = " and then some more text"  # generated past </tool_call>: an engine cannot stop on text


class FixedReplies(Engine):
    """Each turn's reply given in advance, as token ids of the checkpoint's tokenizer."""

    name = "fixed"

    def __init__(self, tokenizer, replies: list[str]):
        self.tokenizer, self.replies, self.requests = tokenizer, list(replies), []

    def generate(self, requests, sampling):
        out = []
        for req in requests:
            self.requests.append(req)
            ids = self.tokenizer.encode(self.replies.pop(0), add_special_tokens=False)
            ids.append(self.tokenizer.convert_tokens_to_ids("<|im_end|>"))
            out.append(Completion(ids, "", [-0.5] * len(ids), prompt_tokens=1000, cached_tokens=600))
        return out

    def choice_logprobs(self, requests, token_ids):
        raise NotImplementedError


def test_engine_episode_is_the_hf_protocol(tiny, clips, small_config, call):
    _, processor = tiny
    tok = processor.tokenizer
    root, videos = clips
    script = [call([2]), call([4, 40]), call([4, 13]), ANSWER]  # the second is out of range (1..16)
    replies = [text + AFTER if "<tool_call>" in text else text for text in script]
    config = AgentConfig(**{**small_config.to_dict(), "max_turns": 4})
    engine = FixedReplies(tok, replies)
    (trace,), = rollout_groups(engine, processor, [{"videos": videos, "prompt": "a ball", "id": "x"}], config,
                               media_root=root)
    expected = scripted_trace("a ball", videos, script, config, id="x")
    assert trace.messages == expected.messages and trace.turns == script
    assert trace.judgments == {"TA": 1, "VQ": 2, "MQ": 1, "OA": 2} and trace.stop_reason == "answer"
    assert trace.tool_errors == expected.tool_errors and "out of range" in trace.tool_errors[0]
    # the reply's tokens stop where the HF decoders stop: right after </tool_call>
    for text, ids, lps in zip(script, trace.turn_token_ids, trace.turn_logprobs):
        kept = tok.decode(ids)
        assert kept.endswith("</tool_call>") if "<tool_call>" in text else kept == text + "<|im_end|>"
        assert len(lps) == len(ids)
    assert trace.prefill_tokens == [400] * 4
    # each request is the windowed context the HF loop shows: only the latest tool answer's images
    with FrameStore.for_config(videos, config, root) as store:
        for k, req in enumerate(engine.requests):
            context = materialize(context_for_turn(trace.messages, k, config.memory_window), store)
            assert req.text == render(processor, context)
            assert len(req.media.get("images", [])) == len(images_of(context))
    # 2+2 first frames, then 1; the refused call is a tool answer too (the authors' window), so it
    # pushes the frame out; then 2
    assert [len(r.media["images"]) for r in engine.requests] == [4, 5, 4, 6]


def test_stop_text_end_cuts_where_the_decoders_stop(tiny, call):
    tok = tiny[1].tokenizer
    ids = tok.encode(call([3]) + AFTER, add_special_tokens=False)
    end = stop_text_end(tok, ids, "</tool_call>")
    assert tok.decode(ids[:end]) == call([3])
    assert stop_text_end(tok, ids, None) == len(ids)
    assert stop_text_end(tok, ids[:end - 1], "</tool_call>") == end - 1  # not complete: nothing cut
