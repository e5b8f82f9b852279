"""OCR text-rendering reward: 1 - normalised edit distance between the text asked for and the text read.

Flow-GRPO's OCR reward (yifan123/flow_grpo `flow_grpo/ocr.py`, `OcrScorer.__call__`; read in
the forks zqqqqz2000/flow_grpo and Xianchao-Wu/flow_grpo, identical there, as only a .pyc of the
upstream file was at hand), reproduced step by step:
- target: the text between the first pair of double quotes of the prompt
  (`prompt.split('"')[1]`);
- read: the texts of all lines the OCR keeps, concatenated in reading order;
- both normalised by removing spaces and lower-casing;
- distance 0 if the target occurs in the read text, else the Levenshtein distance
  between them, capped at len(target); reward = 1 - distance / len(target), in [0, 1];
- an image where nothing is read (or the OCR fails on it) gets 0.

Where this differs: the OCR is the PP-OCRv4 detector + recogniser that ship in the
`rapidocr-onnxruntime` wheel (ONNX, Chinese+English dictionary), where Flow-GRPO runs
PaddleOCR `lang="en"` (PP-OCRv3 English detector, PP-OCRv4 English recogniser):
`ocr@/path/en_PP-OCRv4_rec_infer.onnx` swaps in another recogniser. Images reach
the OCR as RGB converted to BGR (Flow-GRPO hands PaddleOCR an RGB array where it
expects BGR). A record may name its target in a `"target_text"` field; a prompt
without a quoted span (Flow-GRPO would fail with an IndexError) or with an empty
one is that record's error. Typographic quotes (“...”) count when there are no
straight ones.
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field

from mmreward.errors import RecordError, require
from mmreward.models.options import MediaCapOptions
from mmreward.rewards.base import ImageReward, image_family
from mmreward.rewards.sources import loading, pick_source, split_source
from mmreward.scoring.media import MediaOptions

log = logging.getLogger(__name__)

TARGET_FIELD = "target_text"
QUOTED = (re.compile(r'"([^"]*)"'), re.compile(r"“([^”]*)”"))


def normalize(text: str) -> str:
    return text.replace(" ", "").lower()


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance (insertions, deletions, substitutions all cost 1)."""
    if len(a) < len(b):
        a, b = b, a
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, start=1):
        current = [i]
        for j, cb in enumerate(b, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def text_reward(target: str, read: str) -> float:
    goal, seen = normalize(target), normalize(read)
    distance = 0 if goal in seen else min(edit_distance(seen, goal), len(goal))
    return 1.0 - distance / len(goal)


def target_text(record: dict, prompt: str, field: str = TARGET_FIELD) -> str:
    if field in record:
        value = record[field]
        if not isinstance(value, str) or not normalize(value):
            raise RecordError(f"'{field}' must be a non-empty string")
        return value
    for pattern in QUOTED:
        match = pattern.search(prompt)
        if match:
            if not normalize(match.group(1)):
                raise RecordError("the quoted text in the prompt is empty: nothing for the OCR reward to look for")
            return match.group(1)
    raise RecordError(f"the OCR reward needs the text to render: put it in double quotes in the prompt "
                      f"(a sign that says \"OPEN\") or in a '{field}' field")


class OcrReward(ImageReward):
    kind = "ocr"

    def __init__(self, engine, name: str = "ocr", field: str = TARGET_FIELD, media=None):
        super().__init__(name, media)
        self.engine, self.field = engine, field
        opts = engine.opts
        self.details = {"checkpoint": {"det": opts.det_model or "rapidocr ch_PP-OCRv4_det_infer.onnx",
                                       "rec": opts.rec_model or "rapidocr ch_PP-OCRv4_rec_infer.onnx"},
                        "formula": "1 - min(edit_distance(read, target), len(target)) / len(target)",
                        "target": f"first double-quoted span of the prompt, or the '{field}' field"}

    def prepare(self, record, item):
        return target_text(record, item.prompt, self.field)

    def score_images(self, contexts: list, images: list) -> list[dict]:
        lines = self.engine.read(images)
        out = []
        for target, found in zip(contexts, lines):
            read = " ".join(text for text, _ in found)
            out.append({"reward": text_reward(target, read), "ocr_text": read})
        return out


@dataclass
class OcrOptions(MediaCapOptions):
    _minimum = {"threads": 1, "rec_batch_size": 1}

    rec_model: str | None = field(default=None, metadata={
        "help": "another recogniser .onnx (or ocr@FILE; default: the wheel's ch_PP-OCRv4_rec_infer.onnx)"})
    det_model: str | None = field(default=None, metadata={
        "help": "another detector .onnx (default: the wheel's ch_PP-OCRv4_det_infer.onnx)"})
    text_score: float = field(default=0.5, metadata={"help": "lines read with a lower confidence are dropped"})
    threads: int | None = field(default=None, metadata={"help": "onnxruntime threads (default: its own)"})
    rec_batch_size: int = field(default=1, metadata={"help": "text lines per recogniser pass"})
    target_field: str = field(default=TARGET_FIELD, metadata={
        "help": "the record field that names the text to render (else the prompt's first quoted span)"})
    device: str | None = field(default=None, metadata={
        "help": "accepted for `accelerate launch`; the OCR runs on onnxruntime's CPU provider"})


def load(name_or_path: str, mode: str | None, options: OcrOptions) -> OcrReward:
    base, inline = split_source(name_or_path)
    if options.device not in (None, "cpu"):
        # accepted, so that `accelerate launch ... score` (which passes each process its GPU) works
        log.info("%s runs on onnxruntime's CPU provider, not on %s", base, options.device)
    require("rapidocr_onnxruntime", "ocr", "the OCR reward")
    require("onnxruntime", "ocr", "the OCR reward")
    from vision.ocr import OcrEngine
    from vision.ocr import OcrOptions as EngineOptions

    rec = pick_source(base, inline, options.rec_model, "rec_model", None)
    opts = EngineOptions(det_model=options.det_model, rec_model=rec, text_score=options.text_score,
                         threads=options.threads, rec_batch_size=options.rec_batch_size)
    with loading(base, rec):
        engine = OcrEngine(opts)
    return OcrReward(engine, base, options.target_field, MediaOptions.with_caps(options))


FAMILY = image_family("ocr", "OCR reward", OcrOptions, ("ocr",), catalog=(
    {"name": "ocr", "backbone": "PP-OCRv4 det + rec (ONNX)", "kind": "image reward: text rendering (Flow-GRPO)",
     "outputs": "rewards = 1 - normalised edit distance to the quoted text, ocr_text",
     "needs": "extra [ocr]; the weights ship in the rapidocr-onnxruntime wheel",
     "use": "mmreward score --model ocr --input IN --output OUT"},))
