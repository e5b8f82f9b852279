"""mmreward: multimodal reward models on Qwen-VL backbones.

    import mmreward
    rm = mmreward.load("tiny", mode="scalar")
    rm.score([{"id": "a", "prompt": "a red circle",
               "candidates": [{"images": ["a.png"]}, {"images": ["b.png"]}]}], media_root="data")
"""
__version__ = "0.1.0"


def load(name_or_path="tiny", mode=None, **kwargs):
    """A reward model by name, directory or hub id: `mmreward.registry.load` (docs/architecture.md,
    "Loading"). Imported lazily so `import mmreward` does not import torch."""
    from mmreward.registry import load as _load

    return _load(name_or_path, mode, **kwargs)


def __getattr__(name):
    # `mmreward.Client` (the reward service's client), imported on first use
    if name == "Client":
        from mmreward.serve.client import Client

        return Client
    raise AttributeError(f"module 'mmreward' has no attribute {name!r}")


__all__ = ["Client", "load", "__version__"]
