"""`mmreward serve`: a batching reward service on Ray Serve (mmreward/serve/)."""
from __future__ import annotations

import os
import signal
import sys
import threading

from mmreward.commands.parsing import Command
from mmreward.models.options import JudgeOptions, ModelOptions
from mmreward.serve.config import ServeConfig


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
    from mmreward.serve.app import connect, start, stop
    from mmreward.serve.reaper import adopt_orphans, reap

    load_kwargs = {"name": model_opts.model, "mode": model_opts.mode, **model_opts.load_kwargs(),
                   **judge.load_kwargs()}
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
        run_until(None, connect, cfg, hold=released)
        if stopping.is_set() or not run_until(stopping, start, load_kwargs, cfg):
            print("mmreward serve: stopped during start-up", file=sys.stderr, flush=True)
            return 0
        key = "API key required" if cfg.resolved_api_key() else "no API key"
        print(f"mmreward serve: http://{cfg.host}:{cfg.port} ready ({model_opts.model}, {key}; "
              f"POST /v1/score, POST /get_reward, GET /health, GET /metrics). Ctrl-C stops.",
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


def run_until(stopping: threading.Event | None, fn, *args, hold: threading.Event | None = None) -> bool:
    """`fn(*args)` in a thread, waited for until it returns (True) or a stop comes first (False: it
    is left to the shutdown, so that a stop during minutes of model loading is prompt; `stopping`
    None: waited for to the end). Its error is raised here. `hold`: the thread then lives on
    until it is set."""
    outcome: list = []
    done = threading.Event()

    def target():
        try:
            outcome.append((True, fn(*args)))
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread below
            outcome.append((False, exc))
        done.set()
        if hold is not None:
            hold.wait()

    threading.Thread(target=target, name=f"mmreward-serve-{fn.__name__}", daemon=True).start()
    while not done.wait(0.2) and not (stopping is not None and stopping.is_set()):
        pass
    if not outcome:
        return False
    ok, value = outcome[0]
    if not ok:
        raise value
    return True


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
