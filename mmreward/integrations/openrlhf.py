"""OpenRLHF: `mmreward serve` as `--reward.remote_url`, or this file as an in-process reward.

Remote (one reward service for all rollout workers; batches across them):

    mmreward serve --model M --port 8000 --media-root /data &
    python -m openrlhf.cli.train_ppo_ray ... --reward.remote_url http://127.0.0.1:8000/get_reward \\
        --data.label_key label

In process (OpenRLHF imports a `.py` remote_url and calls its `reward_func` in each rollout
worker; the model is named by $MMREWARD_MODEL, default "tiny"; $MMREWARD_MODE,
$MMREWARD_MEDIA_ROOT and $MMREWARD_ERROR_REWARD as the server's options):

    MMREWARD_MODEL=M python -m openrlhf.cli.train_ppo_ray ... \\
        --reward.remote_url $(python -c "import mmreward.integrations.openrlhf as m; print(m.__file__)")

OpenRLHF (0.11.2, `openrlhf/utils/agent.py`) sends `query` (prompt + response, special
tokens kept), `prompts` and `labels`, never images: a multimodal reward needs each row's
label to carry its media. `make_label` writes such a label (JSON text with "images",
"videos", "prompt", "criteria", "fps"; images in memory become data: URIs). With a service,
paths in labels are read under the server's --media-root. `mmreward.serve.protocol` turns
the request into records; both ways answer the same `{"rewards", "scores", "extra_logs"}`.
"""
from __future__ import annotations

import json
import os

from mmreward.errors import RecordError
from mmreward.integrations.common import reward_model
from mmreward.serve.protocol import ProtocolError, openrlhf_records, openrlhf_response


def make_label(images=None, videos=None, *, prompt: str | None = None, criteria: str | None = None,
               fps: float | None = None, media_root=None) -> str:
    """A dataset label that gives the reward model a row's media (and optionally the question
    to judge against, when the prompt text is not it)."""
    from mmreward.serve.wire import Encoder

    encoder = Encoder(media_root)
    label = {"images": encoder.media(images, "images", "label"), "videos": encoder.media(videos, "videos", "label"),
             "prompt": prompt, "criteria": criteria, "fps": fps}
    return json.dumps({k: v for k, v in label.items() if v is not None})


def reward_func(queries: list[str], prompts: list[str], labels: list) -> dict:
    """OpenRLHF's in-process reward hook: the same answer as the service's /get_reward."""
    model = reward_model(os.environ.get("MMREWARD_MODEL", "tiny"), os.environ.get("MMREWARD_MODE") or None)
    records = openrlhf_records({"query": queries, "prompts": prompts, "labels": labels})
    good = [r for r in records if not isinstance(r, RecordError)]
    scored = iter(model.score(good, os.environ.get("MMREWARD_MEDIA_ROOT") or None))
    outputs = [{"id": i, "error": str(r)} if isinstance(r, RecordError) else next(scored)
               for i, r in enumerate(records)]
    error_reward = os.environ.get("MMREWARD_ERROR_REWARD")
    try:
        return openrlhf_response(outputs, float(error_reward) if error_reward else None)
    except ProtocolError as exc:
        raise RecordError(exc.message) from None
