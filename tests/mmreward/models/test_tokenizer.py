import pytest
from mmreward.models.tokenizer import SPECIAL_TOKENS, build_qwen2_tokenizer


@pytest.mark.slow
def test_ids_match_released_qwen2():
    tok = build_qwen2_tokenizer()
    assert tok("Hello world")["input_ids"] == [9707, 1879]
    ids = tok.convert_tokens_to_ids(["<|image_pad|>", "<|video_pad|>", "yes", "no", "<|im_start|>",
                                     "<|im_end|>", "<|endoftext|>"])
    assert ids == [151655, 151656, 9693, 2152, 151644, 151645, 151643]
    assert len(tok) == 151643 + 22


@pytest.mark.slow
def test_special_tokens_in_real_order_and_not_split():
    tok = build_qwen2_tokenizer()
    assert [tok.convert_tokens_to_ids(t) for t in SPECIAL_TOKENS] == list(range(151643, 151665))
    assert tok("<|im_start|>user\n<tool_call>")["input_ids"] == [151644, 872, 198, 151657]


@pytest.mark.slow
def test_digits_split_one_by_one_and_text_round_trips():
    tok = build_qwen2_tokenizer()
    assert tok("12345")["input_ids"] == [16, 17, 18, 19, 20]
    text = "héllo  wörld\n\n\tcafé 日本語 🙂"
    assert tok.decode(tok(text)["input_ids"]) == text
