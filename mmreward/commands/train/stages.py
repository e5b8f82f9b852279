"""The training stages as commands: (config dataclasses, recipe entry point).

Every stage takes, after its own options, the LoRA options and the memory plan's. `--plan` prints
the plan and trains nothing; otherwise the run holds its --out (`train.run_dir.claimed`: one run per
folder, an earlier run's folder only with --resume or --overwrite) for as long as it trains.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from mmreward.commands.parsing import Command
from mmreward.models.options import TrainModelOptions
from mmreward.train.agent import grpo, rft, sft_traces
from mmreward.train.agent.common import AgentOptions, ItemsData, TraceData
from mmreward.train.lora import LoraOptions
from mmreward.train.plan import PlanOptions
from mmreward.train.reward import bt, sft_yes_token
from mmreward.train.reward.data import PreferenceData


@dataclass
class Objective:
    _argument_group_name = "objective"

    objective: Literal["yes-token", "traces"] = field(default="yes-token", metadata={
        "help": "what sft trains: yes-token answers on preference pairs, or agent traces "
                "(see --objective X --help)"})


def stage(name: str, main, objective: bool = False):
    """The run function of stage `name`: (model, [objective], *inputs, cfg, lora, plan) -> exit code."""
    def run(model, *configs):
        from mmreward.train.plan import print_plan
        from mmreward.train.run_dir import claimed

        from mmreward.train.sharding import require_launch

        *inputs, cfg, lora, plan = configs[1:] if objective else configs
        if plan.plan:
            return print_plan(name, model, lora, cfg, plan)
        if getattr(cfg, "deepspeed", None):
            require_launch("--deepspeed")
        with claimed(cfg.output_dir, cfg.resume, cfg.overwrite):
            return main(model, *inputs, cfg, lora)
    return run


TAIL = (LoraOptions, PlanOptions)
BT = Command(configs=(TrainModelOptions, PreferenceData, bt.BTConfig, *TAIL), run=stage("bt", bt.main),
             description=bt.__doc__)
YES_TOKEN_SFT = Command(configs=(TrainModelOptions, Objective, PreferenceData, sft_yes_token.YesTokenSFTConfig, *TAIL),
                        run=stage("yes-token", sft_yes_token.main, objective=True), description=sft_yes_token.__doc__)
TRACE_SFT = Command(configs=(TrainModelOptions, Objective, TraceData, AgentOptions, sft_traces.TraceSFTConfig, *TAIL),
                    run=stage("traces", sft_traces.main, objective=True), description=sft_traces.__doc__)
RFT = Command(configs=(TrainModelOptions, ItemsData, AgentOptions, rft.RFTConfig, *TAIL), run=stage("rft", rft.main),
              description=rft.__doc__)
GRPO = Command(configs=(TrainModelOptions, ItemsData, AgentOptions, grpo.GRPOConfig, *TAIL),
               run=stage("grpo", grpo.main), description=grpo.__doc__)
