"""`mmreward serve`: a batching reward service on Ray Serve (mmreward/serve/)."""
from __future__ import annotations

import signal
import sys
import threading

from mmreward.commands.common import judge_options, load_kwargs
from mmreward.commands.parsing import Command
from mmreward.models.options import ModelOptions
from mmreward.serve.config import ServeConfig

#: the server's own options (its --api-key, --max-records-per-request) win the names they share
JudgeOptions = judge_options(ServeConfig)


def check_model(name: str, preset: str | None, mode: str | None, options: dict) -> None:
    """The model's options, and a checkpoint directory that is not there, are one-line errors
    before Ray starts."""
    from mmreward.models.backbone import resolve_name
    from mmreward.registry import resolve

    family, implied = resolve(name, preset)
    family.check_mode(mode)
    family.parse_options({**options, **({"preset": implied} if implied else {})})
    if family.default:
        resolve_name(name)


def run(model_opts: ModelOptions, judge: JudgeOptions, cfg: ServeConfig) -> int:
    from mmreward.errors import require

    require("ray.serve", "serve", "mmreward serve")
    options = load_kwargs(model_opts, judge)
    check_model(model_opts.model, model_opts.preset, model_opts.mode,
                {k: v for k, v in options.items() if k != "preset"})
    from mmreward.serve.app import connect, start, stop

    model = {"name": model_opts.model, "mode": model_opts.mode, **options}
    started_ray = connect(cfg)
    stopping = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):  # after ray.init, which installs its own SIGTERM handler
        signal.signal(sig, lambda *_: stopping.set())
    try:
        start(model, cfg)
        key = "API key required" if cfg.resolved_api_key() else "no API key"
        print(f"mmreward serve: http://{cfg.host}:{cfg.port} ready ({model_opts.model}, {key}; "
              f"POST /v1/score, POST /get_reward, POST /score, GET /health, GET /metrics). Ctrl-C stops.",
              file=sys.stderr, flush=True)
        stopping.wait()
        print("mmreward serve: finishing requests in flight", file=sys.stderr, flush=True)
        left = stop(cfg)
        print(f"mmreward serve: stopped ({left} requests unanswered)", file=sys.stderr, flush=True)
    finally:
        if started_ray:
            import ray

            ray.shutdown()
    return 0


COMMAND = Command(
    configs=(ModelOptions, JudgeOptions, ServeConfig),
    run=run,
    description=(
        "Serve a reward model over HTTP on Ray Serve: POST /v1/score (a list of records -> their "
        "output dicts, in order; a bad record gets an error entry in its slot), POST /get_reward "
        "(OpenRLHF's --reward.remote_url protocol), POST /score (UniRL's reward-service protocol), "
        "GET /health, GET /metrics (Prometheus). "
        "Concurrent requests share dynamic batches; --replicas model replicas (one per GPU by "
        "default) on a local Ray cluster or --address's. Binds 127.0.0.1 unless --host says "
        "otherwise. SIGINT/SIGTERM finish the requests in flight, then stop."),
)
