"""The training stages as commands: (config dataclasses, recipe entry point)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from mmreward.commands.parsing import Command
from mmreward.models.options import TrainModelOptions
from mmreward.train.agent import grpo, rft, sft_traces
from mmreward.train.agent.common import AgentOptions, ItemsData, TraceData
from mmreward.train.reward import bt, sft_yes_token
from mmreward.train.reward.data import PreferenceData


@dataclass
class Objective:
    _argument_group_name = "objective"

    objective: Literal["yes-token", "traces"] = field(default="yes-token", metadata={
        "help": "what sft trains: yes-token answers on preference pairs, or agent traces "
                "(see --objective X --help)"})


def _dropping_objective(main):
    return lambda model, _objective, *configs: main(model, *configs)


BT = Command(configs=(TrainModelOptions, PreferenceData, bt.BTConfig), run=bt.main, description=bt.__doc__)
YES_TOKEN_SFT = Command(configs=(TrainModelOptions, Objective, PreferenceData, sft_yes_token.YesTokenSFTConfig),
                        run=_dropping_objective(sft_yes_token.main), description=sft_yes_token.__doc__)
TRACE_SFT = Command(configs=(TrainModelOptions, Objective, TraceData, AgentOptions, sft_traces.TraceSFTConfig),
                    run=_dropping_objective(sft_traces.main), description=sft_traces.__doc__)
RFT = Command(configs=(TrainModelOptions, ItemsData, AgentOptions, rft.RFTConfig), run=rft.main,
              description=rft.__doc__)
GRPO = Command(configs=(TrainModelOptions, ItemsData, AgentOptions, grpo.GRPOConfig), run=grpo.main,
               description=grpo.__doc__)
