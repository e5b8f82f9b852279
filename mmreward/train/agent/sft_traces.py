"""Cold-start SFT of the video agent on multi-turn traces (`mmreward train sft --objective traces`).

Recipe:
  1. read traces (JSONL of `Trace`, e.g. `mmreward synth agent`'s traces.jsonl);
  2. each assistant turn becomes one sequence: the windowed context the model saw + its text,
     loss only on the assistant's own tokens (`agent_data`);
  3. `transformers.Trainer` (`trainer.RecipeTrainer`) with the standard causal-LM loss,
     computed on those tokens only (`agent_logprobs`), so `accelerate launch` gives DDP;
  4. an atomic checkpoint every --save-steps, `--resume` continues from the newest complete one;
     the final model and processor are written to --out with `save_pretrained`.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch

from mmreward.launch import process_state
from mmreward.train.agent.common import StoreCache, default_media_root, load_policy
from mmreward.train.agent.data import TurnCollator, encode_trace_turn
from mmreward.train.agent.logprobs import TokenLogprobs, causal_lm_loss
from mmreward.train.common import TrainArguments, add_to_summary, stage_default, write_summary
from mmreward.train.lora import NO_LORA, prepare


@dataclass(kw_only=True)
class TraceSFTConfig(TrainArguments):
    stage = "sft"

    per_device_train_batch_size: int = stage_default(TrainArguments, "per_device_train_batch_size", 4)
    num_train_epochs: float = stage_default(TrainArguments, "num_train_epochs", 3.0)
    learning_rate: float = stage_default(TrainArguments, "learning_rate", 1e-4)
    save_steps: float = stage_default(TrainArguments, "save_steps", 200)


class TraceTurnDataset(torch.utils.data.Dataset):
    """(trace, assistant turn) pairs, tokenised lazily: images are decoded only when a turn is drawn."""

    def __init__(self, traces, processor, agent_config, media_root=None):
        self.traces, self.processor, self.config = traces, processor, agent_config
        self.index = [(i, t) for i, tr in enumerate(traces) for t in range(len(tr.turns))]
        # one open store per video pair, up to 512: frames are decoded once, not once per epoch
        self.stores = StoreCache(agent_config, media_root, size=512)

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, k: int):
        i, turn = self.index[k]
        trace = self.traces[i]
        store = self.stores.get(trace.videos)
        return encode_trace_turn(trace, turn, self.processor, store, self.config.memory_window)


def token_nll(model, inputs, num_items_in_batch=None):
    out = model(**inputs)
    # logged: this micro-batch's own mean (the loss is normalised by the whole step's token count)
    return causal_lm_loss(out["logp"], out["mask"], num_items_in_batch), {
        "loss": causal_lm_loss(out["logp"].detach(), out["mask"])}


def train_on_traces(traces, policy, processor, agent_config, cfg: TrainArguments, media_root=None, lora=NO_LORA):
    """SFT `policy` on `traces` (with LoRA adapters when `lora` says so); saves the model and
    train_summary.json to cfg.output_dir; returns the Trainer's train output."""
    from mmreward.train.trainer import RecipeTrainer, run_summary, train_and_save

    prepare(policy, lora, cfg.seed)
    policy.train()
    dataset = TraceTurnDataset(traces, processor, agent_config, media_root)
    trainer = RecipeTrainer(model=TokenLogprobs(policy), args=cfg, train_dataset=dataset,
                            data_collator=TurnCollator(processor.tokenizer.pad_token_id),
                            processing_class=processor, loss_fn=token_nll, lora=lora)
    result = train_and_save(trainer, cfg)
    summary = run_summary(trainer, train_loss=result.training_loss)
    if trainer.is_world_process_zero():
        write_summary(cfg.output_dir, summary)
    policy.eval()
    dataset.stores.close()
    return result


def main(model, data, agent, cfg: TraceSFTConfig, lora=NO_LORA) -> int:
    """`model`: TrainModelOptions, `data`: TraceData, `agent`: AgentOptions, `lora`: LoraOptions."""
    from mmreward.agent.trace import read_traces

    traces = read_traces(data.traces)
    agent_config = agent.to_config()
    policy, processor = load_policy(model)
    train_on_traces(traces, policy, processor, agent_config, cfg, default_media_root(data.traces, data.media_root),
                    lora)
    if not process_state().is_main_process:
        return 0
    summary = add_to_summary(cfg.output_dir, traces=len(traces), agent_config=agent_config.to_dict())
    Path(cfg.output_dir, "agent_config.json").write_text(json.dumps(agent_config.to_dict(), indent=2) + "\n")
    print(json.dumps({k: v for k, v in summary.items() if k not in ("log", "agent_config")}))
    return 0
