"""`mmreward serve`: a batching reward service on Ray Serve (mmreward/serve/)."""
from __future__ import annotations

import signal
import sys
import threading

from mmreward.commands.parsing import Command
from mmreward.models.options import JudgeOptions, ModelOptions
from mmreward.serve.config import ServeConfig


def run(model_opts: ModelOptions, judge: JudgeOptions, cfg: ServeConfig) -> int:
    from mmreward.commands.common import check_model
    from mmreward.errors import require

    check_model(model_opts)  # a name that can be no model: one line, before Ray starts
    require("ray.serve", "serve", "mmreward serve")
    from mmreward.serve.app import connect, start, stop

    load_kwargs = {"name": model_opts.model, "mode": model_opts.mode, **model_opts.load_kwargs(),
                   **judge.load_kwargs()}
    started_ray = connect(cfg)
    stopping = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):  # after ray.init, which installs its own SIGTERM handler
        signal.signal(sig, lambda *_: stopping.set())
    try:
        start(load_kwargs, cfg)
        key = "API key required" if cfg.resolved_api_key() else "no API key"
        print(f"mmreward serve: http://{cfg.host}:{cfg.port} ready ({model_opts.model}, {key}; "
              f"POST /v1/score, POST /get_reward, GET /health, GET /metrics). Ctrl-C stops.",
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
        "(OpenRLHF's --reward.remote_url protocol), GET /health, GET /metrics (Prometheus). "
        "Concurrent requests share dynamic batches; --replicas model replicas (one per GPU by "
        "default) on a local Ray cluster or --address's. Binds 127.0.0.1 unless --host says "
        "otherwise. SIGINT/SIGTERM finish the requests in flight, then stop."),
)
