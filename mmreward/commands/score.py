"""`mmreward score`: score a JSONL file of records, resumably."""
from __future__ import annotations

import sys
from pathlib import Path

from mmreward.commands.common import add_model_arguments, load_from_args


def register(sub, name: str, help: str):
    p = sub.add_parser(name, help=help, description=(
        "Score records (DESIGN.md format) with a reward model. Writes one JSON line per input "
        "line, in order: {id, rewards, preferred[, dimensions]} or {id, error}. A bad line never "
        "stops the run. Re-running with the same --output resumes: lines already answered are "
        "not scored again. Under `accelerate launch` every process scores a shard."))
    add_model_arguments(p)
    p.add_argument("--input", required=True, help="JSONL of records")
    p.add_argument("--output", required=True, help="JSONL of results (appended to when resuming)")
    p.add_argument("--media-root", default=None,
                   help="directory media paths are relative to; nothing outside it is read "
                        "(default: the working directory, unconfined)")
    p.add_argument("--batch-size", type=int, default=8, help="prompts per forward pass (default 8)")
    p.add_argument("--max-image-pixels", type=int, default=None,
                   help="refuse images larger than this many pixels (default 64M)")
    p.add_argument("--criteria", default=None,
                   help="criteria text for records that give none (generative questions, scalar prompts)")
    p.add_argument("--form", choices=["auto", "pointwise", "pairwise"], default=None,
                   help="generative mode: one candidate at a time, or A against reference B "
                        "(default: the checkpoint's, else auto = pairwise for 2 candidates)")
    p.add_argument("--rationale-tokens", type=int, default=None,
                   help="generative mode: the model first explains its judgement in up to this many "
                        "tokens (greedy), then P(yes) is read; outputs gain 'rationales' (default 0: off)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args) -> int:
    from mmreward.launch import process_state
    from mmreward.scoring.score_file import score_file

    if not Path(args.input).is_file():  # before minutes of model loading
        print(f"mmreward score: input {args.input!r}: no such file", file=sys.stderr)
        return 2
    state = process_state()
    extra = {"max_image_pixels": args.max_image_pixels}
    if args.criteria:
        extra["criteria"] = args.criteria
    for key in ("form", "rationale_tokens"):
        if getattr(args, key) is not None:
            extra[key] = getattr(args, key)
    device = str(state.device) if state.num_processes > 1 else None
    model = load_from_args(args, device=device, **extra)
    try:
        summary = score_file(model, args.input, args.output, args.media_root, args.batch_size,
                             progress=not args.no_progress, state=state)
    except (OSError, ValueError) as exc:
        print(f"mmreward score: {exc}", file=sys.stderr)
        return 2
    if state.is_main_process:
        # the process count shows whether a launcher really started several
        print(f"{args.output}: {summary['lines']} lines, {summary['errors']} errors "
              f"(resumed after {summary['resumed_from']}; {state.num_processes} process"
              f"{'es' if state.num_processes > 1 else ''})", file=sys.stderr)
    return 0
