"""What the commands that load a reward model share."""
from __future__ import annotations

from pathlib import Path

from mmreward.errors import InputError
from mmreward.models.options import JudgeOptions, ModelOptions


def check_model(model: ModelOptions) -> None:
    """A model name that can be no model here is a one-line error before anything heavy is imported."""
    from mmreward.names import check_model_name

    check_model_name(model.model)


def load_model(model: ModelOptions, judge: JudgeOptions | None = None, **extra):
    """`mmreward.load` with these options; `extra` (e.g. the process's device) wins over them."""
    import mmreward

    kwargs = {**model.load_kwargs(), **(judge.load_kwargs() if judge else {}), **extra}
    return mmreward.load(model.model, model.mode, **kwargs)


def read_records(path: str, flag: str) -> list:
    """Every line of the JSONL file `path` (the value of `flag`): its record, or the RecordError
    that makes it unusable. A missing file is refused before any model loads."""
    from mmreward.scoring.score_file import read_records as read

    if not Path(path).is_file():
        raise InputError(f"{flag} {path!r}: no such file")
    return read(path)
