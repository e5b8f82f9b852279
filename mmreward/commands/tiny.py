"""`mmreward tiny --out DIR`: write the offline tiny checkpoint."""
from __future__ import annotations


def register(sub, name: str, help: str):
    p = sub.add_parser(name, help=help, description=(
        "Write the tiny Qwen2.5-VL preset (real Qwen2 tokenizer, processor and chat template; "
        "random weights, ~10M parameters) as an ordinary Hugging Face checkpoint directory that "
        "transformers loads offline."))
    p.add_argument("--out", required=True, help="directory to write (created)")
    p.add_argument("--seed", type=int, default=0, help="weight initialisation seed")
    p.set_defaults(func=run)


def run(args) -> int:
    from mmreward.models.tiny import build_tiny

    out = build_tiny(args.out, seed=args.seed)
    print(f"wrote tiny Qwen2.5-VL checkpoint to {out}")
    return 0
