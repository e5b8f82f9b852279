"""`OcrEngine`: the PP-OCRv4 detector and recogniser shipped in `rapidocr-onnxruntime`, batched.

    engine = OcrEngine()                 # the ONNX files inside the wheel: no download
    engine.read([pil_a, pil_b])          # -> [[("HELLO", 0.99), ...], [...]] lines in reading order

RapidOCR runs one image at a time: detect text boxes, crop them, recognise the
crops. `read` detects per image (the detector's input size follows each image)
and recognises the crops of *all* images of the call in one recogniser call
(sorted by aspect ratio, `rec_batch_size` crops per forward pass), so a GPU
build of onnxruntime gets full batches; on the CPU the default is one crop per
pass (see `OcrOptions`). `read_single` is the library's own per-image call, kept
as the reference the batched path is checked against (tests, benchmarks/ocr_reward.py).

Settings follow Flow-GRPO's OCR reward, which runs PaddleOCR with its defaults and
`use_angle_cls=False` (no text-direction classifier): PaddleOCR's detector resize
rule (`det_limit_side_len=960`, `det_limit_type="max"`, PaddleOCR tools/infer/utility.py;
RapidOCR's own default upscales every image to a 736-pixel short side, 3-5x slower
here) and its drop score of 0.5 for low-confidence lines (RapidOCR's `text_score`).
An image the library cannot process (degenerate sizes) reads as no text.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class OcrOptions:
    det_model: str | None = None  # detector ONNX file; None: the wheel's ch_PP-OCRv4_det_infer.onnx
    rec_model: str | None = None  # recogniser ONNX file; None: the wheel's ch_PP-OCRv4_rec_infer.onnx
    text_score: float = 0.5  # lines recognised with a lower confidence are dropped
    threads: int | None = None  # onnxruntime intra-op threads; None: onnxruntime's default
    # crops per recogniser forward pass. 1 on CPU: padding a batch to its widest crop costs more
    # than the batch saves (57 crops of 60 rendered images: 6.4 s at 1, 8.2 s at 4, 11.1 s at 16,
    # one onnxruntime thread); raise it with a GPU build of onnxruntime
    rec_batch_size: int = 1


def _rapidocr_kwargs(opts: OcrOptions) -> dict:
    kwargs = {"text_score": opts.text_score, "rec_batch_num": opts.rec_batch_size,
              "det_limit_side_len": 960, "det_limit_type": "max"}
    for key, path in (("det_model_path", opts.det_model), ("rec_model_path", opts.rec_model)):
        if path is not None:
            if not Path(path).is_file():
                raise FileNotFoundError(f"OCR model file {path!r} not found")
            kwargs[key] = str(path)
    if opts.threads is not None:
        kwargs["intra_op_num_threads"] = opts.threads
        kwargs["inter_op_num_threads"] = 1
    return kwargs


def _library_errors() -> tuple[type[Exception], ...]:
    """What RapidOCR raises for an image it cannot process (not for a broken install)."""
    import cv2
    from rapidocr_onnxruntime.ch_ppocr_det.utils import ResizeImgError as DetResizeError
    from rapidocr_onnxruntime.utils.load_image import LoadImageError
    from rapidocr_onnxruntime.utils.process_img import ResizeImgError

    return (cv2.error, DetResizeError, ResizeImgError, LoadImageError)


class OcrEngine:
    def __init__(self, opts: OcrOptions | None = None):
        from rapidocr_onnxruntime import RapidOCR

        self.opts = opts or OcrOptions()
        self.engine = RapidOCR(**_rapidocr_kwargs(self.opts))
        self.unreadable = _library_errors()

    def _crops(self, image) -> list[np.ndarray]:
        """Text-line crops of one image in reading order (top to bottom, left to right)."""
        eng = self.engine
        img = eng.load_img(image)  # PIL RGB -> BGR array, as the models were trained on cv2 input
        img, ratio_h, ratio_w = eng.preprocess(img)
        img, _ = eng.maybe_add_letterbox(img, {"preprocess": {"ratio_h": ratio_h, "ratio_w": ratio_w}})
        boxes, _ = eng.auto_text_det(img)
        if boxes is None:
            return []
        return eng.get_crop_img_list(img, boxes)

    def read(self, images: list) -> list[list[tuple[str, float]]]:
        """For each image, the lines read (text, confidence) above `text_score`, in reading order."""
        crops, owners = [], []
        for i, image in enumerate(images):
            try:
                found = self._crops(image)
            except self.unreadable as exc:  # e.g. a 5x3000 image the resize step refuses
                log.warning("OCR cannot process image %d (%s: %s); it reads as no text", i, type(exc).__name__, exc)
                found = []
            crops.extend(found)
            owners.extend([i] * len(found))
        lines: list[list[tuple[str, float]]] = [[] for _ in images]
        if not crops:
            return lines
        recognised, _ = self.engine.text_rec(crops)
        for owner, res in zip(owners, recognised):
            text, score = res[0], float(res[1])
            if score >= self.opts.text_score:
                lines[owner].append((text, score))
        return lines

    def read_single(self, image) -> list[tuple[str, float]]:
        """The library's own per-image pipeline (no classifier): the reference for `read`."""
        result, _ = self.engine(image, use_cls=False)
        return [(text, float(score)) for _, text, score in (result or [])]
