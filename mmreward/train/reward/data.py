"""Preference data for reward-model training: records with two candidates and a `chosen` index."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from torch.utils.data import Dataset

from mmreward.errors import InputError
from mmreward.scoring.jsonl import read_jsonl
from mmreward.scoring.media import MediaOptions
from mmreward.scoring.records import Item, RecordError, check_record, load_item


@dataclass
class PreferenceData:
    """The data of `train bt` and `train sft --objective yes-token`."""

    _argument_group_name = "data"

    data: str = field(metadata={"help": "training JSONL: records with 2 candidates and 'chosen': 0 | 1"})
    eval_data: str | None = field(default=None, metadata={
        "help": "held-out JSONL of the same form: pairwise accuracy before and after training"})
    media_root: str | None = field(default=None, metadata={
        "help": "directory the records' media paths are relative to; nothing outside it is read"})
    video_frames: int | None = field(default=None, metadata={
        "help": "frames sampled uniformly per video. Default: the checkpoint's, else 8"})


def read_preference_records(path: str | Path) -> list[dict]:
    """Read and check a preference JSONL (strict JSON lines: `mmreward.scoring.jsonl.read_jsonl`);
    InputError naming the line of the first bad record."""
    if not Path(path).is_file():
        raise InputError(f"{path}: no such file")
    records = []
    for n, rec in read_jsonl(path):
        try:
            check_record(rec)
            if len(rec["candidates"]) != 2 or rec.get("chosen") not in (0, 1):
                raise RecordError("needs exactly 2 candidates and 'chosen': 0 or 1")
        except RecordError as exc:
            raise InputError(f"{path}: line {n}: {exc}") from None
        records.append(rec)
    if not records:
        raise InputError(f"{path} has no records")
    return records


class PreferenceDataset(Dataset):
    """Decodes media lazily, so a large set costs memory only per batch."""

    def __init__(self, records: list[dict], media: MediaOptions):
        self.records, self.media = records, media

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, i: int) -> tuple[Item, dict]:
        rec = self.records[i]
        try:
            return load_item(rec, self.media), rec
        except RecordError as exc:
            raise InputError(f"training record {rec.get('id', i)!r}: {exc}") from None
