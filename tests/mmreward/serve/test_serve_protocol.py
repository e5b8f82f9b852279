"""The service's wire formats without a server: bodies, OpenRLHF queries, labels, replies."""
from __future__ import annotations

import json

import pytest

from mmreward.errors import ConfigError, RecordError
from mmreward.serve.config import ServeConfig
from mmreward.serve.protocol import (ProtocolError, check_request_record, openrlhf_label, openrlhf_records,
                                     openrlhf_response, parse_json, question_of, response_of, score_request)

# what OpenRLHF sends for a Qwen2.5-VL policy: the prompt as its chat template writes it, and the
# query decoded from token ids with special tokens kept (the one image pad comes back expanded)
PROMPT = ("<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n"
          "<|vision_start|><|image_pad|><|vision_end|>How many kites?<|im_end|>\n<|im_start|>assistant\n")
QUERY = PROMPT.replace("<|image_pad|>", "<|image_pad|>" * 4) + "Two kites.<|im_end|><|endoftext|>"


def test_bodies_that_are_not_a_list_of_records_are_refused_whole():
    with pytest.raises(ProtocolError, match="invalid JSON") as bad:
        parse_json(b'[{"id": 1,')
    assert bad.value.status == 400
    with pytest.raises(ProtocolError, match="nested too deeply"):
        parse_json(b"[" * 100_000 + b"]" * 100_000)
    with pytest.raises(ProtocolError, match="invalid JSON"):
        parse_json(b"\xff\xfe not utf-8")
    assert parse_json(b'[{"id": "NaN 1e400", "fps": 1e300, "n": -12}]') == [{"id": "NaN 1e400", "fps": 1e300, "n": -12}]


@pytest.mark.parametrize("body, words", [
    (b'[{"id": NaN}]', "NaN is not a JSON value (RFC 8259): line 1 column 9 (char 8)"),
    (b'[{"id": "a\\"NaN", "w": -Infinity}]', "-Infinity is not a JSON value (RFC 8259): line 1 column 24"),
    (b'{"records": [\n {"fps": 1e400}]}', "1e400 is out of double range (not a finite number): line 2 column 10"),
    (b'[{"fps": -2.5e999}]', "-2.5e999 is out of double range"),
    (b'[' + b'9' * 5000 + b']', "is an integer of 5000 digits, over the parser's limit: line 1 column 2"),
])
def test_numbers_json_does_not_have_are_refused_naming_their_position(body, words):
    with pytest.raises(ProtocolError) as bad:
        parse_json(body)
    assert bad.value.status == 400 and bad.value.message.startswith("invalid JSON: ") and words in bad.value.message
    with pytest.raises(RecordError, match="label is not valid JSON"):
        openrlhf_label('{"images": [], "fps": NaN}')
    with pytest.raises(ProtocolError, match="got dict"):
        score_request({"prompt": "a single record, not a list"})
    assert score_request({"records": [1, 2]}) == [1, 2]


def test_a_server_without_media_root_reads_no_paths():
    record = {"prompt": "p", "images": ["data:image/png;base64,AAAA"],
              "candidates": [{"videos": [{"frames": ["data:image/png;base64,AAAA", "/etc/passwd"]}]}]}
    check_request_record(record, paths_allowed=True)
    with pytest.raises(RecordError, match="'/etc/passwd': this server reads no files"):
        check_request_record(record, paths_allowed=False)
    with pytest.raises(RecordError, match="prompt"):
        check_request_record({"prompt": 3, "candidates": [{"text": "x"}]}, paths_allowed=True)


def test_openrlhf_query_gives_back_the_question_and_the_response():
    assert question_of(PROMPT) == "How many kites?"
    assert response_of(QUERY, PROMPT) == "Two kites."  # the query does not start with the prompt
    assert response_of("plain prompt then answer", "plain prompt") == "then answer"
    assert question_of("no template") == "no template"
    with pytest.raises(RecordError, match="response cannot be found"):
        response_of("something else entirely", "a prompt")


def test_openrlhf_labels_carry_media_and_bad_items_stay_in_their_slot():
    label = json.dumps({"images": ["q.png"], "criteria": "counting"})
    records = openrlhf_records({"query": [QUERY, QUERY, 7], "prompts": [PROMPT, PROMPT, PROMPT],
                                "labels": [label, "{not json", None]})
    assert records[0] == {"id": 0, "prompt": "How many kites?", "candidates": [{"text": "Two kites."}],
                          "images": ["q.png"], "criteria": "counting"}
    assert isinstance(records[1], RecordError) and "query 1: label is not valid JSON" in str(records[1])
    assert isinstance(records[2], RecordError) and "must be strings" in str(records[2])
    assert openrlhf_label("42") == {} and openrlhf_label(None) == {}  # a ground-truth label: no media
    with pytest.raises(RecordError, match="unknown keys"):
        openrlhf_label({"image": "q.png"})
    with pytest.raises(ProtocolError, match="as long as 'query'"):
        openrlhf_records({"query": ["a", "b"], "prompts": ["a"]})


def test_openrlhf_reply_and_what_happens_to_an_item_that_failed():
    outputs = [{"id": 0, "rewards": [0.25], "preferred": 0}, {"id": 1, "error": "image 'q.png' not found"}]
    with pytest.raises(ProtocolError, match="query 1: image 'q.png' not found") as failed:
        openrlhf_response(outputs, error_reward=None)
    assert failed.value.status == 422
    reply = openrlhf_response(outputs, error_reward=-1.0)
    assert reply["rewards"] == reply["scores"] == [0.25, -1.0]
    assert reply["extra_logs"] == {"mmreward_error": [0.0, 1.0]}
    assert reply["errors"] == [None, "image 'q.png' not found"]


def test_serve_config_checks_its_limits(monkeypatch):
    with pytest.raises(ConfigError, match="--max-batch-size must be at least 1"):
        ServeConfig(max_batch_size=0)
    with pytest.raises(ConfigError, match="must hold at least one batch"):
        ServeConfig(max_queue=4, max_batch_size=8, max_records_per_request=4)
    with pytest.raises(ConfigError, match="--max-records-per-request"):
        ServeConfig(max_queue=16, max_batch_size=8, max_records_per_request=32)
    monkeypatch.setenv("MMREWARD_API_KEY", "from-env")
    assert ServeConfig().resolved_api_key() == "from-env"
    assert ServeConfig(api_key="flag").resolved_api_key() == "flag"
