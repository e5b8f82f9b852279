"""UniRL's reward protocol (mmreward/serve/unirl.py): requests shaped as UniRL's RemoteRewardBackend
builds them (unirl/reward/remote.py `_build_score_payload`), results and errors in the shape its
`_parse_score_response` reads, per-request errors in their place."""
from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import json
import math

import pytest
from PIL import Image

from mmreward.errors import RecordError
from mmreward.serve import unirl
from mmreward.serve.protocol import ProtocolError


def jpeg_b64(color=(200, 30, 30), size=(48, 32)) -> str:
    """An image as UniRL's `_encode_image_b64` sends it: RGB JPEG, quality 95, plain base64."""
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format="JPEG", quality=95)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def unirl_request(history: list[dict], rewards: list[str], index: int = 0, metadata=None) -> dict:
    """One wire request with UniRL's identity fields (`_wire_identity`)."""
    sample = f"s{index}"
    return {"history": history, "required_rewards": rewards, "metadata": metadata, "request_id": sample,
            "sample_id": sample, "group_id": f"g{index // 2}", "source_rank": 0, "policy_version": 7,
            "scorer_version": None, "idempotency_key": hashlib.sha256(sample.encode()).hexdigest()}


def client_view(response: dict, required: list[str]) -> list[tuple[dict, bool, str | None]]:
    """What UniRL's client makes of a response: per request (first sub-metric per reward, success,
    error text), as `_parse_score_response` with sub_metric_reduce='first' reads it."""
    view = []
    for result, errors in zip(response["results"], response["errors"]):
        scores, problems = {}, []
        for name in required:
            if name in result:
                first = next(iter(result[name].values()))
                assert isinstance(first, float) and math.isfinite(first)
                scores[name] = first
            else:
                problems.append(f"{name}: {errors.get(name, 'missing from server response without error')}")
        view.append((scores, not problems, "; ".join(problems) or None))
    return view


def test_requests_become_records_image_edit_and_video():
    image, source = jpeg_b64(), jpeg_b64((0, 0, 255))
    requests, records = unirl.parse_score({"protocol_version": "1", "requests": [
        unirl_request([{"text": "a red box", "image_b64": image}], ["hpsv3"], 0, {"target_text": "RED"}),
        unirl_request([{"text": "make it red", "image_b64": source}, {"text": "make it red", "image_b64": image}],
                      ["hpsv3"], 1),
        unirl_request([{"text": "a ball rolls", "video_b64": "AAAA"}], ["videoreward"], 2),
        unirl_request([{"text": "a ball rolls", "video_path": "clips/a.mp4"}], ["videoreward"], 3)]})
    plain, edit, video, path = records
    assert plain == {"id": 0, "prompt": "a red box", "images": [], "videos": [], "target_text": "RED",
                     "candidates": [{"images": [f"data:;base64,{image}"]}]}
    assert edit["images"] == [f"data:;base64,{source}"] and edit["candidates"] == [{"images": [f"data:;base64,{image}"]}]
    assert video["candidates"] == [{"videos": ["data:;base64,AAAA"]}]
    assert path["candidates"] == [{"videos": ["clips/a.mp4"]}]  # a path: read under --media-root, if any
    assert requests[1]["sample_id"] == "s1"


@pytest.mark.parametrize("request_, message", [
    ({"history": [], "required_rewards": ["x"]}, "non-empty list of turns"),
    ({"history": [{"text": "p"}], "required_rewards": ["x"]}, "has none of image_b64"),
    ({"history": [{"text": "p", "image_ipc": "h"}], "required_rewards": ["x"]}, "image_ipc"),
    ({"history": [{"text": "p", "image_b64": "a", "video_b64": "b"}], "required_rewards": ["x"]}, "give one"),
    ({"history": [{"image_b64": "a"}], "required_rewards": ["x"]}, "string 'text'"),
    ({"history": [{"text": "p", "image_b64": "a"}], "required_rewards": []}, "required_rewards"),
    ({"history": [{"text": "p", "image_b64": "a"}], "required_rewards": ["x"], "metadata": [1]}, "metadata"),
    ("not a request", "must be an object"),
])
def test_a_malformed_request_is_an_error_in_its_own_slot(request_, message):
    good = unirl_request([{"text": "p", "image_b64": jpeg_b64()}], ["x"])
    _, records = unirl.parse_score({"requests": [good, request_, good]})
    assert isinstance(records[1], RecordError) and message in str(records[1])
    assert records[0]["prompt"] == records[2]["prompt"] == "p"


@pytest.mark.parametrize("body, message", [
    ([], "the body must be"), ({"requests": {}}, "the body must be"),
    ({"protocol_version": "2", "requests": []}, "protocol_version='2'"),
    ({"requests": [{"history": [], "required_rewards": ["x"], "scorer_version": "v9"}]}, "scorer_version"),
])
def test_request_level_refusals(body, message):
    with pytest.raises(ProtocolError, match=message) as refused:
        unirl.parse_score(body)
    assert refused.value.status == 400


def test_served_names_of_a_reward_a_combo_and_a_checkpoint():
    assert unirl.served_rewards({"name": "hpsv3", "kind": "scalar", "dimensions": ["mu", "sigma"]}) == {
        "hpsv3": ["hpsv3", "mu", "sigma"]}
    combo = {"name": "combo:a=1,b=2", "kind": "combo", "dimensions": ["hpsv3", "imagereward"], "components": [
        {"name": "hpsv3", "dimensions": ["mu", "sigma"]}, {"name": "imagereward", "dimensions": []}]}
    assert unirl.served_rewards(combo) == {"combo": ["combo", "hpsv3", "imagereward"],
                                           "hpsv3": ["hpsv3", "mu", "sigma"], "imagereward": ["imagereward"]}
    assert list(unirl.served_rewards({"name": "/ckpt/my-rm/", "kind": "scalar"})) == ["my-rm"]
    assert list(unirl.served_rewards({"name": "vqascore@/ckpt/qwen", "kind": "vqascore"})) == ["vqascore"]


def test_results_errors_and_identities_in_unirls_shape():
    info = {"name": "combo:x", "kind": "combo", "dimensions": ["hpsv3", "imagereward", "hpsv3/mu"], "components": [
        {"name": "hpsv3", "dimensions": ["mu"]}, {"name": "imagereward", "dimensions": []}]}
    requests = [unirl_request([{"text": "p", "image_b64": "a"}], ["hpsv3", "imagereward"], i) for i in range(3)]
    requests[2]["required_rewards"] = ["hpsv3", "pickscore"]
    outputs = [
        {"id": 0, "rewards": [1.5], "dimensions": {"hpsv3": [0.5], "hpsv3/mu": [0.5], "imagereward": [2.0]}},
        {"id": 1, "error": "candidate 0: invalid base64 in data URI"},
        {"id": 2, "rewards": [1.0], "dimensions": {"hpsv3": [float("nan")], "hpsv3/mu": [0.1], "imagereward": [2.0]}},
    ]
    response = json.loads(json.dumps(unirl.score_response(requests, outputs, info), allow_nan=False))
    assert response["protocol_version"] == "1"
    assert response["results"][0] == {"hpsv3": {"hpsv3": 0.5, "mu": 0.5}, "imagereward": {"imagereward": 2.0}}
    assert response["errors"][1] == {"hpsv3": outputs[1]["error"], "imagereward": outputs[1]["error"]}
    assert "non-finite" in response["errors"][2]["hpsv3"] and "unknown reward 'pickscore'" in response["errors"][2][
        "pickscore"]
    view = client_view(response, ["hpsv3", "imagereward"])
    assert view[0] == ({"hpsv3": 0.5, "imagereward": 2.0}, True, None)
    assert view[1][1] is False and "invalid base64" in view[1][2]
    for request, identity in zip(requests, response["identities"]):  # `_validate_identity_echo`'s keys
        for key in ("request_id", "sample_id", "group_id", "source_rank", "policy_version", "idempotency_key"):
            assert identity[key] == request[key]


class Handle:
    """The model deployment, in process: `info` and `score` of a real model, awaitable like Serve's."""

    def __init__(self, model):
        self.model = model

        class Call:
            def __init__(self, value):
                self.value = value

            def __await__(self):
                async def value():
                    return self.value
                return value().__await__()

            def cancel(self):
                pass

        class Method:
            def __init__(self, fn):
                self.fn = fn

            def remote(self, *args):
                return Call(self.fn(*args))

        self.info = Method(lambda: dict(model.info))
        self.score = Method(lambda piece: {"outputs": model.score(piece), "replica": "r", "batch": 1,
                                           "size": len(piece)})


def http(app, path: str, body=None, method: str = "POST", raw: bytes | None = None) -> tuple[int, dict]:
    from starlette.requests import Request

    payload = raw if raw is not None else json.dumps(body).encode() if body is not None else b""

    async def receive():
        return {"type": "http.request", "body": payload, "more_body": False}

    scope = {"type": "http", "method": method, "path": path, "query_string": b"",
             "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]}
    response = asyncio.run(app(Request(scope, receive)))
    return response.status_code, json.loads(response.body)


@pytest.mark.slow
def test_the_ingress_answers_unirl_on_a_real_model(imagereward_dir):
    pytest.importorskip("ray.serve")
    import mmreward
    from mmreward.serve.config import ServeConfig
    from mmreward.serve.ingress import Ingress

    model = mmreward.load(f"imagereward@{imagereward_dir}", device="cpu")
    app = Ingress.func_or_class(Handle(model), vars(ServeConfig(max_batch_size=2)), None)
    status, health = http(app, "/health", method="GET")
    assert status == 200 and health["rewards"] == {"imagereward": ["imagereward"]}  # what the client checks
    red, blue = jpeg_b64((220, 20, 20)), jpeg_b64((20, 20, 220))
    body = {"protocol_version": "1", "requests": [
        unirl_request([{"text": "a red square", "image_b64": red}], ["imagereward"], 0),
        unirl_request([{"text": "a red square", "image_b64": "%%%"}], ["imagereward"], 1),
        unirl_request([{"text": "a blue square", "image_b64": blue}], ["imagereward", "hpsv3"], 2),
        unirl_request([{"text": "a blue square"}], ["imagereward"], 3)]}
    status, response = http(app, "/score", body)
    assert status == 200
    view = client_view(response, ["imagereward"])
    direct = model.score([{"prompt": p, "candidates": [{"images": [f"data:;base64,{b}"]}]}
                          for p, b in (("a red square", red), ("a blue square", blue))])
    assert view[0][0]["imagereward"] == pytest.approx(direct[0]["rewards"][0], abs=1e-6) and view[0][1]
    assert view[2][0]["imagereward"] == pytest.approx(direct[1]["rewards"][0], abs=1e-6)
    assert "base64" in response["errors"][1]["imagereward"] and response["results"][1] == {}
    assert "unknown reward 'hpsv3'" in response["errors"][2]["hpsv3"]
    assert "has none of image_b64" in response["errors"][3]["imagereward"]
    assert [i["sample_id"] for i in response["identities"]] == ["s0", "s1", "s2", "s3"]
    status, refused = http(app, "/score", {"protocol_version": "1", "requests": [
        {**body["requests"][0], "scorer_version": "v1"}]})
    assert status == 400 and "scorer_version" in refused["error"]
    # the strict JSON parser of every route (issue 26 item 11): NaN is not JSON, 1e400 not a finite number
    status, refused = http(app, "/score", raw=b'{"protocol_version": "1", "requests": [{"metadata": {"w": NaN}}]}')
    assert (status, refused) == (400, {"error": "invalid JSON: NaN is not a JSON value (RFC 8259): line 1 column 59 "
                                                "(char 58)"})
    status, refused = http(app, "/score", raw=b'{"protocol_version": "1", "requests": [{"metadata": {"w": 1e400}}]}')
    assert status == 400 and "1e400 is out of double range (not a finite number)" in refused["error"]


@pytest.mark.slow
@pytest.mark.multiprocess
def test_mmreward_serve_answers_unirl_for_the_three_rewards_and_their_combo(hpsv3_dir, imagereward_dir, tmp_path):
    """A real `mmreward serve` of `combo:` HPSv3 + ImageReward + VQAScore: UniRL asks for each part by
    name, and gets what the same combo gives in process; `/v1/score` agrees."""
    pytest.importorskip("ray.serve")
    import yaml

    import mmreward
    from serve_helpers import Server

    spec = tmp_path / "rewards.yaml"
    spec.write_text(yaml.safe_dump({"components": [
        {"model": f"hpsv3@{hpsv3_dir}", "weight": 1.0, "name": "hpsv3"},
        {"model": f"imagereward@{imagereward_dir}", "weight": 0.5, "name": "imagereward"},
        {"model": "vqascore@tiny", "weight": 2.0, "name": "vqascore"}]}))
    server = Server("--model", f"combo:{spec}", "--device", "cpu", log=tmp_path / "serve.log")
    try:
        combo = mmreward.load(f"combo:{spec}", device="cpu")  # in process, while the server starts
        images = [jpeg_b64((220, 20, 20), (64, 48)), jpeg_b64((20, 200, 40), (40, 80))]
        records = [{"id": k, "prompt": "a red square", "candidates": [{"images": [f"data:;base64,{b}"]}]}
                   for k, b in enumerate(images)]
        expected = combo.score(records)
        server.wait_ready()
        import httpx

        health = httpx.get(server.url + "/health", timeout=30).json()
        assert set(health["rewards"]) == {"combo", "hpsv3", "imagereward", "vqascore"}
        required = ["hpsv3", "imagereward", "vqascore", "combo"]
        body = {"protocol_version": "1", "requests": [
            unirl_request([{"text": "a red square", "image_b64": b}], required, k) for k, b in enumerate(images)]
            + [unirl_request([{"text": "a red square", "image_b64": "not base64!"}], required, 2)]}
        answer = server.post("/score", body)
        assert answer.status_code == 200, answer.text
        response = answer.json()
        view = client_view(response, required)
        for (scores, ok, _), want in zip(view[:2], expected):
            assert ok
            assert scores["combo"] == pytest.approx(want["rewards"][0], abs=1e-5)
            for part in ("hpsv3", "imagereward", "vqascore"):
                assert scores[part] == pytest.approx(want["dimensions"][part][0], abs=1e-5)
        assert response["results"][0]["hpsv3"]["sigma"] == pytest.approx(
            expected[0]["dimensions"]["hpsv3/sigma"][0], abs=1e-5)
        assert view[2][1] is False and set(response["errors"][2]) == set(required)
        assert [i["idempotency_key"] for i in response["identities"]] == [r["idempotency_key"]
                                                                          for r in body["requests"]]
        plain = server.post("/v1/score", records).json()
        assert [o["rewards"][0] for o in plain] == pytest.approx([o["rewards"][0] for o in expected], abs=1e-5)
    finally:
        server.stop()
