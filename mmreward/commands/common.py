"""What the commands that load a reward model share."""
from __future__ import annotations

from mmreward.models.options import JudgeOptions, ModelOptions


def load_model(model: ModelOptions, judge: JudgeOptions | None = None, **extra):
    """`mmreward.load` with these options; `extra` (e.g. the process's device) wins over them."""
    import mmreward

    kwargs = {**model.load_kwargs(), **(judge.load_kwargs() if judge else {}), **extra}
    return mmreward.load(model.model, model.mode, **kwargs)
