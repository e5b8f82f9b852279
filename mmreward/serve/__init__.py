"""The reward service (`mmreward serve`) and its client.

- `config.py`: `ServeConfig`, the server's options;
- `protocol.py`: the wire formats (`/v1/score`, OpenRLHF's `/get_reward`), no Ray needed;
- `ingress.py`, `model.py`, `app.py`: the Ray Serve application (HTTP ingress -> batched
  model replicas) and how it starts and stops;
- `metrics.py`: the Prometheus metrics the ingress keeps;
- `client.py`: `mmreward.Client` (sync and async, retries, splitting), no Ray needed;
- `wire.py`: records with in-memory media -> JSON (data: URIs) for the remote path;
- `remote.py`: `mmreward.load("http://...")`, a `BaseRewardModel` backed by the client.

Importing this package imports nothing heavy: rollout workers that only call a service
need `httpx`, not Ray or torch.
"""
