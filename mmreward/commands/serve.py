"""`mmreward serve`: a batching reward service on Ray Serve (mmreward/serve/)."""
from __future__ import annotations

import os
import signal
import sys
import threading

from mmreward.commands.common import judge_options, load_kwargs
from mmreward.commands.parsing import Command
from mmreward.models.options import ModelOptions
from mmreward.serve.config import ServeConfig

#: the server's own options (its --api-key, --max-records-per-request) win the names they share
JudgeOptions = judge_options(ServeConfig)


def check_options(name: str, preset: str | None, mode: str | None, options: dict) -> None:
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
    from mmreward.commands.common import check_model
    from mmreward.errors import require

    stopping = threading.Event()
    catch_stops(stopping)  # from the first moment: a stop during start-up is acted on, never lost
    check_model(model_opts)  # a name that can be no model: one line, before Ray starts
    # Ray's core worker installs absl's failure-signal handler (read when Ray is imported), which
    # turns a SIGTERM in the last moments of ray.init into an abort: no cleanup, the cluster's
    # processes orphaned. Without it every stop reaches Python and the finally below
    os.environ.setdefault("RAY_DISABLE_FAILURE_SIGNAL_HANDLER", "1")
    # and a start-up left running by a stop must not call ray.init again (Ray's automatic init) and
    # raise a new cluster after this one is shut down
    os.environ.setdefault("RAY_ENABLE_AUTO_CONNECT", "0")
    require("ray.serve", "serve", "mmreward serve")
    options = load_kwargs(model_opts, judge)
    check_options(model_opts.model, model_opts.preset, model_opts.mode,
                {k: v for k, v in options.items() if k != "preset"})
    from mmreward.serve.app import connect, start, stop
    from mmreward.serve.reaper import adopt_orphans, reap

    model = {"name": model_opts.model, "mode": model_opts.mode, **options}
    local = not cfg.address  # a cluster of our own: every process of it ends with this command
    if local:
        adopt_orphans()
    released = threading.Event()  # the end of the thread that started Ray
    try:
        if stopping.is_set():
            return 0
        # off the main thread, ray.init leaves the signal handlers alone (on it, SIGTERM becomes
        # sys.exit in the middle of starting the node); a stop meanwhile waits for it to finish.
        # Ray's processes die with the thread that started them (their parent-death signal is a
        # thread's), so that thread lives until the cluster is shut down
        in_thread(connect, cfg, hold=released)
        if stopping.is_set() or start(model, cfg, stopping) is None:
            print("mmreward serve: stopped during start-up", file=sys.stderr, flush=True)
            return 0
        key = "API key required" if cfg.resolved_api_key() else "no API key"
        print(f"mmreward serve: http://{cfg.host}:{cfg.port} ready ({model_opts.model}, {key}; "
              f"POST /v1/score, POST /get_reward, POST /score, GET /health, GET /metrics). Ctrl-C stops.",
              file=sys.stderr, flush=True)
        stopping.wait()
        print("mmreward serve: finishing requests in flight", file=sys.stderr, flush=True)
        left = stop(cfg)
        print(f"mmreward serve: stopped ({left} requests unanswered)", file=sys.stderr, flush=True)
    finally:
        if local:
            import ray

            quiet_ray_threads()
            ray.shutdown()
            reap()  # what ray.shutdown leaves (the raylet's agents, half a node after a stop in ray.init)
        released.set()
    return 0


def quiet_ray_threads() -> None:
    """From now on, an error in one of Ray's own threads (`ray_listen_error_messages`, ...) is the
    cluster being torn down under it, as this command is doing: not printed as a traceback."""
    previous = threading.excepthook

    def hook(args):
        if args.thread is None or not args.thread.name.startswith("ray_"):
            previous(args)

    threading.excepthook = hook


def catch_stops(stopping: threading.Event) -> None:
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stopping.set())


def in_thread(fn, *args, hold: threading.Event):
    """`fn(*args)` in a thread that then lives on until `hold` is set; its result, or its error
    raised here."""
    outcome: list = []
    done = threading.Event()

    def target():
        try:
            outcome.append((True, fn(*args)))
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread below
            outcome.append((False, exc))
        done.set()
        hold.wait()

    threading.Thread(target=target, name=f"mmreward-serve-{fn.__name__}", daemon=True).start()
    done.wait()
    ok, value = outcome[0]
    if not ok:
        raise value
    return value


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
