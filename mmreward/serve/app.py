"""The Ray Serve application and its life: build it, start it on a Ray cluster, drain it, stop it.

    app = build_app({"name": "tiny", "mode": "scalar"}, ServeConfig(replicas=2))
    start(app, cfg)            # ray.init + serve.start(127.0.0.1:8000) + serve.run
    stop(cfg)                  # drain the ingress, then serve.shutdown()

`mmreward serve` (mmreward/commands/serve.py) does exactly this; tests and notebooks
can do it in-process.
"""
from __future__ import annotations

import logging
import re
import threading
import time
from contextlib import contextmanager
from dataclasses import asdict

from mmreward.errors import MmrewardError
from mmreward.serve.config import ServeConfig

logger = logging.getLogger(__name__)


def cluster_gpus() -> float:
    import ray

    return float(ray.cluster_resources().get("GPU", 0))


def replica_resources(load_kwargs: dict, cfg: ServeConfig) -> tuple[int, dict]:
    """(replicas, ray_actor_options): one replica per GPU where the cluster has GPUs."""
    gpus = cluster_gpus()
    on_cpu = str(load_kwargs.get("device") or "").startswith("cpu")
    per_replica = cfg.gpus_per_replica if cfg.gpus_per_replica is not None else (1.0 if gpus and not on_cpu else 0.0)
    replicas = cfg.replicas or (max(1, int(gpus // per_replica)) if per_replica else 1)
    return replicas, {"num_cpus": cfg.cpus_per_replica, "num_gpus": per_replica}


def build_app(load_kwargs: dict, cfg: ServeConfig):
    """The application: an Ingress bound to `replicas` ModelServer replicas.

    `load_kwargs` are `mmreward.load`'s arguments: {"name": ..., "mode": ..., **options}.
    Needs a running Ray (`connect`), to see the cluster's GPUs.
    """
    from mmreward.serve.ingress import Ingress
    from mmreward.serve.model import ModelServer

    replicas, actor_options = replica_resources(load_kwargs, cfg)
    # ongoing calls per replica: pieces of admitted requests; the ingress bounds them by --max-queue
    model = ModelServer.options(num_replicas=replicas, ray_actor_options=actor_options,
                                max_ongoing_requests=cfg.max_queue + 16, graceful_shutdown_timeout_s=60,
                                max_constructor_retry_count=3)  # a model that cannot load fails the start
    threads = max(1, int(cfg.cpus_per_replica)) if not actor_options["num_gpus"] else None
    model_app = model.bind(load_kwargs, cfg.media_root, cfg.batch_size, cfg.max_batch_size,
                           cfg.max_wait_ms / 1000, threads)
    settings = {k: v for k, v in asdict(cfg).items() if k != "api_key"}
    ingress = Ingress.options(ray_actor_options={"num_cpus": 0},
                              max_ongoing_requests=max(1000, 2 * cfg.max_queue),
                              graceful_shutdown_timeout_s=cfg.request_timeout_s)
    logger.info("mmreward serve: %d model replica(s), %s each", replicas, actor_options)
    return ingress.bind(model_app, settings, cfg.resolved_api_key())


def connect(cfg: ServeConfig) -> bool:
    """Join `--address`'s Ray cluster, or start a local one; True when we started it."""
    import ray

    if ray.is_initialized():
        return False
    # `mmreward serve` calls this off the main thread on purpose, so that Ray keeps its hands off
    # the signal handlers: Ray's note that it then sets no SIGTERM handler of its own is moot.
    # Ray 2.60 turns token authentication on for a new local cluster and warns how to opt out: this
    # cluster is this command's alone and the secure default is right for it, so the advice is not
    # the user's business (RAY_AUTH_MODE set before Ray is imported also silences it).
    with _dropped("ray._private.worker", "SIGTERM handler is not set"), \
            _dropped("ray._private.authentication.authentication_token_setup",
                     "Token authentication is enabled for this Ray cluster"):
        if cfg.address:
            ray.init(address=cfg.address, log_to_driver=False)
            return False
        # "local": never attach to someone else's cluster found through RAY_ADDRESS or /tmp/ray
        ray.init(address="local", num_cpus=cfg.num_cpus, include_dashboard=False, log_to_driver=False)
    return True


@contextmanager
def _dropped(logger: str, prefix: str):
    """Inside the block, `logger` drops records whose message starts with `prefix`."""
    def keep(record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith(prefix)

    logging.getLogger(logger).addFilter(keep)
    try:
        yield
    finally:
        logging.getLogger(logger).removeFilter(keep)


def start(load_kwargs: dict, cfg: ServeConfig, stopping: threading.Event | None = None):
    """Start Serve on cfg.host:cfg.port, deploy the application and wait until it runs; returns
    the ingress handle, or None when `stopping` is set first (the deployment is left to the
    shutdown: a stop during minutes of model loading is prompt)."""
    from ray import serve

    serve.start(http_options={"host": cfg.host, "port": cfg.port,
                              # Ray's own bound, past the ingress's own 504
                              "request_timeout_s": cfg.request_timeout_s + 30})
    # serve.run_many starts Serve again, finds the instance just started and says that "new
    # http_options will not be applied": it has none, the ones above are in force. It does not wait
    # for the application: Ray's own wait cannot be interrupted, and a wait left running in another
    # thread calls into Ray after the shutdown (its core worker then ends the process, exit 1)
    with _dropped("ray.serve", "Connecting to existing Serve app"):
        handle, = serve.run_many([serve.RunTarget(build_app(load_kwargs, cfg), name=cfg.app_name, route_prefix="/")],
                                 wait_for_ingress_deployment_creation=False, wait_for_applications_running=False)
    while True:
        app = serve.status().applications.get(cfg.app_name)
        if app is not None and app.status == "RUNNING":
            return handle
        if app is not None and app.status == "DEPLOY_FAILED":  # a replica failed to start (bad model, out of memory, ...)
            raise MmrewardError(f"the reward service failed to start: Deploying application {cfg.app_name} failed: "
                                f"{app.message} {why_not_running(cfg)}".strip())
        if stopping is None:
            time.sleep(0.2)
        elif stopping.wait(0.2):
            return None


def why_not_running(cfg: ServeConfig) -> str:
    """The exception each unhealthy deployment's replica raised (from Serve's status message)."""
    from ray import serve

    try:
        app = serve.status().applications[cfg.app_name]
    except Exception:  # noqa: BLE001 - the status itself is unavailable: say nothing more
        return ""
    causes = []
    for name, deployment in app.deployments.items():
        lines = [line.strip() for line in (deployment.message or "").splitlines() if line.strip()]
        raised = [line for line in lines if re.match(r"[\w.]+(Error|Exception): ", line)]
        if deployment.status != "HEALTHY" and lines:
            causes.append(f"{name}: {(raised or lines)[-1]}")
    return "; ".join(causes)


def stop(cfg: ServeConfig, drain_timeout_s: float | None = None) -> int:
    """Let requests in flight finish (new ones get 503), then shut Serve down. Returns the
    number of requests still unanswered when the drain timed out (0 normally)."""
    from ray import serve

    left = 0
    try:
        handle = serve.get_app_handle(cfg.app_name)
        left = handle.drain.remote(drain_timeout_s or cfg.request_timeout_s).result()
    except Exception:  # noqa: BLE001 - the app is already gone: nothing to drain
        logger.warning("could not drain the ingress", exc_info=True)
    serve.shutdown()
    return left
