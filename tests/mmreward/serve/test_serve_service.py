"""`mmreward serve` as users start it: one process, a local Ray cluster (2 CPUs), two CPU model
replicas, small limits so that each fault can be provoked. Every fault is followed by a good
request that must be answered correctly. The last test stops the server (SIGTERM) while a
request is in flight."""
from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from types import SimpleNamespace

import httpx
import pytest
import torch
from PIL import Image

import mmreward
from mmreward.scoring.datauri import encode_data_uri
from serve_helpers import Server, bomb_png

pytestmark = [pytest.mark.multiprocess, pytest.mark.slow]

KEY = "test-key"
LIMITS = ["--max-queue", "16", "--max-records-per-request", "16", "--max-batch-size", "8",
          "--max-wait-ms", "20", "--max-body-mb", "1"]


@pytest.fixture(scope="module")
def media(image_pairs):
    root, records = image_pairs
    (root / "bomb.png").write_bytes(bomb_png(10_000, 10_000))
    return root, [{k: r[k] for k in ("id", "prompt", "candidates")} for r in records]


@pytest.fixture(scope="module")
def server(media, tmp_path_factory, request):
    root, _ = media
    srv = Server("--model", "tiny", "--mode", "scalar", "--device", "cpu", "--replicas", "2",
                 "--media-root", str(root), *LIMITS, api_key=KEY,
                 log=tmp_path_factory.mktemp("serve") / "serve.log")
    try:
        request.getfixturevalue("expected")  # the in-process rewards, while the server starts
        yield srv.wait_ready()
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def expected(media, scalar_rm):
    root, records = media
    return {o["id"]: o for o in scalar_rm.score(records, media_root=root)}


def assert_good(server, records, expected):
    """The next good request after a fault: answered, in order, with the in-process rewards."""
    answer = server.post("/v1/score", records[:2])
    assert answer.status_code == 200, answer.text
    for out, record in zip(answer.json(), records[:2]):
        assert out["id"] == record["id"]
        assert out["rewards"] == pytest.approx(expected[record["id"]]["rewards"], abs=1e-5)


def test_scores_equal_in_process_and_long_lists_are_split(server, media, expected):
    root, records = media
    client = mmreward.Client(server.url, api_key=KEY)
    out = client.score(records)  # 24 records, the server takes 16 per request
    assert [o["id"] for o in out] == [r["id"] for r in records]
    for o in out:
        assert o["rewards"] == pytest.approx(expected[o["id"]]["rewards"], abs=1e-5)
        assert o["preferred"] == expected[o["id"]]["preferred"]
    # in-memory images travel as data URIs and get the rewards of the same pixels in process
    in_memory = [{**r, "candidates": [{"images": [Image.open(root / c["images"][0])]} for c in r["candidates"]]}
                 for r in records[:4]]
    assert [o["rewards"] for o in client.score(in_memory)] == [o["rewards"] for o in out[:4]]
    remote = mmreward.load(server.url, api_key=KEY)  # the registry's http:// loader
    assert remote.info["served"]["kind"] == "scalar"
    assert [o["rewards"] for o in remote.score(records[:3])] == [o["rewards"] for o in out[:3]]
    assert asyncio.run(client.ascore(records[:5])) == out[:5]
    tie = {**records[0], "id": "tie", "candidates": [records[0]["candidates"][0]] * 2}
    [answer] = client.score([tie])  # equal rewards arrive as "preferred": null
    assert answer["rewards"][0] == answer["rewards"][1] and answer["preferred"] is None


def test_the_score_command_scores_through_a_service(server, media, expected, tmp_path, monkeypatch):
    from mmreward.cli import main

    _, records = media
    monkeypatch.setenv("MMREWARD_API_KEY", KEY)
    (tmp_path / "in.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records[:5]))
    assert main(["score", "--model", server.url, "--input", str(tmp_path / "in.jsonl"),
                 "--output", str(tmp_path / "out.jsonl"), "--no-progress"]) == 0
    outs = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert [o["id"] for o in outs] == [r["id"] for r in records[:5]]
    for o in outs:
        assert o["rewards"] == pytest.approx(expected[o["id"]]["rewards"], abs=1e-5)


def test_request_faults_get_a_clear_status_and_cost_nothing_else(server, media, expected):
    _, records = media
    cases = [  # (what is sent, status, words of the error)
        (dict(content=b'[{"id": 1, "prompt": '), 400, "invalid JSON"),
        (dict(content=b'[{"id": NaN, "prompt": "p", "candidates": [{"text": "t"}]}]'), 400,
         "invalid JSON: NaN is not a JSON value (RFC 8259): line 1 column 9 (char 8)"),
        (dict(content=b'[{"id": "a", "fps": 1e400, "prompt": "p", "candidates": [{"text": "t"}]}]'), 400,
         "1e400 is out of double range (not a finite number): line 1 column 21"),
        (dict(body={"prompt": "a record, not a list"}), 400, "must be a JSON list of records"),
        (dict(content=b"[" + b"0," * 600_000 + b"0]"), 413, "over the limit of 1048576 bytes"),
        (dict(body=records[:1] * 17), 413, "17 records in one request, over the limit of 16"),
        (dict(body=records[:1], headers={"Authorization": ""}), 401, "missing or wrong API key"),
        (dict(body=records[:1], headers={"Authorization": "Bearer wrong"}), 401, "missing or wrong API key"),
    ]
    for kwargs, status, words in cases:
        answer = server.post("/v1/score", **kwargs)
        assert answer.status_code == status, (kwargs, answer.text)
        assert words in answer.json()["error"]
        assert_good(server, records, expected)
    assert httpx.get(server.url + "/metrics").status_code == 401
    assert httpx.get(server.url + "/nowhere").status_code == 404


def test_bad_records_get_an_error_in_their_slot_and_the_rest_are_scored(server, media, expected):
    _, records = media
    good = records[0]
    bad = [
        ({"id": "types", "prompt": 7, "candidates": "x"}, "missing or non-string field 'prompt'"),
        ({"id": "cands", "prompt": "p", "candidates": [{"text": 3}]}, "'text' must be a string"),
        ({"id": "bomb", "prompt": "p", "candidates": [{"images": ["bomb.png"]}]}, "100.0 MP"),
        ({"id": "bomb-uri", "prompt": "p", "candidates": [{"images": [encode_data_uri(bomb_png(10_000, 10_000),
                                                                                      "image/png")]}]}, "100.0 MP"),
        ({"id": "base64", "prompt": "p", "candidates": [{"images": ["data:image/png;base64,iVBOR@@w0KGgo="]}]},
         "invalid base64"),
        ({"id": "escape", "prompt": "p", "images": ["../x.png"], "candidates": [{"text": "t"}]}, "media root"),
        ({"id": "missing", "prompt": "p", "candidates": [{"images": ["nope.png"]}]}, "not found"),
        # the prompt's own image token: refused inside the model replica when its tokens are counted
        ({"id": "model", "prompt": "<|image_pad|>", "candidates": [{"images": good["candidates"][0]["images"]}]},
         "the processor refuses it: the prompt's text holds 2 <|image_pad|> placeholders for 1 image(s)"),
        ("not an object", "must be a JSON object"),
    ]
    answer = server.post("/v1/score", [good] + [record for record, _ in bad] + [good])
    assert answer.status_code == 200, answer.text
    outs = answer.json()
    assert len(outs) == len(bad) + 2
    for out, (record, words) in zip(outs[1:-1], bad):
        # a missing file may come back on a retry ("retryable"); nothing else rides along
        assert {"id", "error"} <= set(out) <= {"id", "error", "retryable"} and words in out["error"], out
        assert out["id"] == (record.get("id") if isinstance(record, dict) else None)
    for out in (outs[0], outs[-1]):
        assert out["rewards"] == pytest.approx(expected[good["id"]]["rewards"], abs=1e-5)
    assert_good(server, records, expected)


def test_a_full_queue_answers_503_with_retry_after(server, media, expected):
    _, records = media
    body = json.dumps(records[:8]).encode()

    async def burst():
        async with httpx.AsyncClient(timeout=120, headers=server.headers) as http:
            return await asyncio.gather(*(http.post(server.url + "/v1/score", content=body) for _ in range(12)))

    answers = asyncio.run(burst())
    codes = [a.status_code for a in answers]
    assert 503 in codes and 200 in codes, codes  # 16 records of queue: two requests of 8 at a time
    for a in answers:
        if a.status_code == 503:
            assert a.headers["Retry-After"] == "1" and "queue full" in a.json()["error"]
        else:
            for out, record in zip(a.json(), records[:8], strict=True):
                assert out["rewards"] == pytest.approx(expected[record["id"]]["rewards"], abs=1e-5)
    assert server.metrics()["mmreward_errors_total{reason=\"queue_full\"}"] >= codes.count(503)
    assert_good(server, records, expected)


def test_a_client_that_disconnects_costs_nothing_else(server, media, expected):
    _, records = media
    body = json.dumps(records[:16]).encode()
    before = server.metrics()
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(b"POST /v1/score HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Authorization: Bearer " + KEY.encode() + b"\r\nContent-Length: " +
                     str(len(body)).encode() + b"\r\n\r\n" + body)
        deadline = time.monotonic() + 30
        while server.metrics()["mmreward_queue_depth"] < 16 and time.monotonic() < deadline:
            time.sleep(0.02)  # until the ingress has admitted it; then the client goes away
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        now = server.metrics()
        if now["mmreward_queue_depth"] == 0 and now["mmreward_requests_in_flight"] == 1:
            break
        time.sleep(0.2)
    assert now["mmreward_queue_depth"] == 0  # its queue slots came back
    assert now["mmreward_requests_in_flight"] == 1  # this /metrics request only
    # counted once: as a disconnect (499), or as answered (200) when its batch was already running
    counts = [f"mmreward_requests_total{{code=\"{code}\",endpoint=\"/v1/score\"}}" for code in (499, 200)]
    assert sum(now.get(c, 0) for c in counts) == sum(before.get(c, 0) for c in counts) + 1
    assert_good(server, records, expected)


def test_probes_run_on_the_served_model_as_on_the_model_in_process(server, media, scalar_rm, tmp_path):
    """`mmreward probe` on `mmreward.load(URL)`: the perturbed media (PIL images, JPEG bytes) travel
    as data URIs and the served model's flips and shifts are the in-process model's."""
    from mmreward.probe import probe

    root, records = media
    options = dict(probes=["position_swap", "jpeg", "blank_image", "typographic_claim"], n_bootstrap=50)
    there = probe(mmreward.load(server.url, api_key=KEY), records[:6], root, tmp_path / "remote", **options)
    here = probe(scalar_rm, records[:6], root, tmp_path / "local", **options)
    assert there["records"]["usable"] == here["records"]["usable"] == 6
    assert [r["probe"] for r in there["probes"]] == [r["probe"] for r in here["probes"]]
    for a, b in zip(there["probes"], here["probes"]):
        assert a["status"] == b["status"] == "ok", (a, b)
        assert (a["n_cases"], a["flip_rate"]) == (b["n_cases"], b["flip_rate"])
        assert a["shift"] == pytest.approx(b["shift"], abs=1e-5)
    assert (tmp_path / "remote" / "probe.md").is_file()


def test_openrlhf_own_client_gets_rewards_from_the_service(server, media, scalar_rm, tiny_dir):
    agent = pytest.importorskip("openrlhf.utils.agent")  # installed --no-deps (.ci/setup)
    from transformers import AutoTokenizer

    from mmreward.integrations.openrlhf import make_label

    root, records = media
    tokenizer = AutoTokenizer.from_pretrained(tiny_dir)
    image = records[0]["candidates"][0]["images"][0]
    prompt = tokenizer.apply_chat_template([{"role": "user", "content": "What is drawn?"}], tokenize=False,
                                           add_generation_prompt=True)
    response_ids = tokenizer("A red circle.<|im_end|>", add_special_tokens=False)["input_ids"]

    class Engine:  # stands in for vLLM: OpenRLHF's own code builds the query and calls the server
        async def generate(self, prompt_ids, params, multi_modal_data=None):
            return SimpleNamespace(outputs=[SimpleNamespace(token_ids=response_ids, text="A red circle.",
                                                            finish_reason="stop", logprobs=None)])

    label = make_label(images=[image])
    # OpenRLHF sends no headers: the key goes in the URL, which it posts to as given
    executor = agent.SingleTurnAgentExecutor(f"{server.url}/get_reward?api_key={KEY}")
    params = SimpleNamespace(max_tokens=16, logprobs=None)
    out = asyncio.run(executor.execute(prompt, label, params, 256, tokenizer, Engine()))
    want = scalar_rm.score(
        [{"prompt": "What is drawn?", "images": [image], "candidates": [{"text": "A red circle."}]}],
        media_root=root)[0]["rewards"]
    assert out["reward"] == pytest.approx(want, abs=1e-5)
    assert out["extra_logs"] == {"mmreward_error": [0.0]}


def test_verl_and_the_adapters_work_against_the_service(server, media, scalar_rm):
    from mmreward.integrations.best_of_n import best_of_n
    from mmreward.integrations.imagegen import GenerationReward
    from mmreward.integrations.trl import GRPOReward
    from mmreward.integrations.verl import compute_score, compute_score_async

    root, records = media
    image = records[1]["candidates"][1]["images"][0]
    info = {"question": records[1]["prompt"], "images": [image]}
    local = scalar_rm.score(
        [{"prompt": records[1]["prompt"], "images": [image], "candidates": [{"text": "yes"}]}], media_root=root)
    got = compute_score("geo3k", "yes", "1", info, model=server.url, api_key=KEY)
    assert got["score"] == pytest.approx(local[0]["rewards"][0], abs=1e-5)
    got = asyncio.run(compute_score_async("geo3k", "yes", "1", info, model=server.url, api_key=KEY))
    assert got["score"] == pytest.approx(local[0]["rewards"][0], abs=1e-5)

    cands = [c["images"][0] for r in records[:2] for c in r["candidates"]]
    ranking = best_of_n(server.url, records[0]["prompt"], [{"images": [c]} for c in cands], api_key=KEY)
    direct = best_of_n(scalar_rm, records[0]["prompt"], [{"images": [c]} for c in cands], media_root=root)
    assert ranking.method == direct.method == "pointwise"
    assert ranking.order == direct.order
    assert ranking.rewards == pytest.approx(direct.rewards, abs=1e-5)

    # tensors and PIL images go as data URIs: the same rewards as in process
    pixels = torch.rand(4, 3, 56, 56)
    remote, _ = GenerationReward(server.url, api_key=KEY, group_size=2)(pixels, ["a red star", "a blue disc"])
    local, _ = GenerationReward(scalar_rm, group_size=2)(pixels, ["a red star", "a blue disc"])
    assert remote == pytest.approx(local, abs=1e-5)
    prompts = [[{"role": "user", "content": [{"type": "text", "text": "What is drawn?"}]}]] * 2
    completions = [[{"role": "assistant", "content": "A star."}], [{"role": "assistant", "content": "A disc."}]]
    squares = [Image.open(root / image)] * 2
    assert GRPOReward(server.url, api_key=KEY)(prompts, completions, image=squares) == \
        pytest.approx(GRPOReward(scalar_rm)(prompts, completions, image=squares), abs=1e-5)


def test_readme_snippets_that_use_a_service_run(server, rl_snippets, media, monkeypatch):
    root, _ = media
    monkeypatch.chdir(root)
    monkeypatch.setenv("MMREWARD_API_KEY", KEY)  # what the README's Client() picks up
    ran = []
    for snippet in rl_snippets:
        if snippet["service"]:
            code = snippet["code"].replace("http://127.0.0.1:8000", server.url)
            exec(compile(code, f"README.md ({snippet['heading']})", "exec"), {"__name__": "readme"})
            ran.append(snippet["heading"])
    assert ran == ["The reward service", "OpenRLHF"]


def test_two_replicas_both_take_work(server, media):
    _, records = media

    async def load():
        async with httpx.AsyncClient(timeout=120, headers=server.headers) as http:
            for _ in range(3):
                await asyncio.gather(*(http.post(server.url + "/v1/score", json=records[i:i + 4])
                                       for i in range(0, 16, 4)))

    asyncio.run(load())
    metrics = server.metrics()
    per_replica = {k: v for k, v in metrics.items() if k.startswith("mmreward_records_total{replica=")}
    assert len(per_replica) == 2 and all(v > 0 for v in per_replica.values()), per_replica
    batches = {k: v for k, v in metrics.items() if k.startswith("mmreward_batches_total{replica=")}
    assert len(batches) == 2 and all(v > 0 for v in batches.values()), batches
    assert metrics["mmreward_batch_size_sum"] >= sum(per_replica.values()) - 1e-9  # every record in a batch
    assert metrics["mmreward_batch_size_count"] < sum(per_replica.values())  # ...and batches held several


def test_shutdown_finishes_the_request_in_flight(server, media, expected):
    """Last in this module: it stops the server."""
    _, records = media
    result = {}

    def send():
        result["answer"] = server.post("/v1/score", records[:16])

    sender = threading.Thread(target=send)
    sender.start()
    time.sleep(0.5)  # the request is in the queue or on a replica
    assert server.stop() == 0
    sender.join(60)
    answer = result["answer"]
    assert answer.status_code == 200, answer.text
    for out, record in zip(answer.json(), records[:16]):
        assert out["rewards"] == pytest.approx(expected[record["id"]]["rewards"], abs=1e-5)
    log = server.log.read_text()
    assert "finishing requests in flight" in log and "stopped (0 requests unanswered)" in log
