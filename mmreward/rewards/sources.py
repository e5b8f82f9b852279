"""Where a named reward finds its weights: `NAME` (the released default), `NAME@SOURCE`, or a keyword.

    mmreward.load("pickscore")                          # yuvalkirstain/PickScore_v1 (hub / HF cache)
    mmreward.load("pickscore@/ckpt/PickScore_v1")       # a local directory
    mmreward.load("hpsv2@/ckpt/HPS_v2_compressed.pt")   # a checkpoint file
    mmreward.load("hpsv2", checkpoint="/ckpt/HPS_v2_compressed.pt")

The `@SOURCE` form is what the CLI's `--model` takes; loading errors become one-line
`ModelNotFoundError` / `ConfigError` messages that name the reward and the source.
"""
from __future__ import annotations

import contextlib
import os

from mmreward.errors import ConfigError, MmrewardError, ModelNotFoundError


def split_source(name: str) -> tuple[str, str | None]:
    """"pickscore@/ckpt/x" -> ("pickscore", "/ckpt/x"); "pickscore" -> ("pickscore", None)."""
    base, sep, source = str(name).partition("@")
    if sep and not source:
        raise ConfigError(f"model {name!r}: nothing after '@' (expected NAME@PATH_OR_HUB_ID)")
    return base, (os.path.expanduser(source) if sep else None)


def pick_source(name: str, inline: str | None, keyword: str | None, keyword_name: str, default: str | None):
    """The source given inline (`NAME@SOURCE`) or by keyword (not both), else the default."""
    if inline is not None and keyword is not None and inline != str(keyword):
        raise ConfigError(f"{name}: source given twice ({inline!r} after '@' and {keyword_name}={keyword!r})")
    source = inline if inline is not None else keyword
    return str(source) if source is not None else default


def hub_file(repo: str, filename: str, name: str) -> str:
    """A released file from the HF hub (or its local cache when offline)."""
    import huggingface_hub

    try:
        return huggingface_hub.hf_hub_download(repo, filename)
    except Exception as exc:  # noqa: BLE001 - offline, missing, gated: all mean "not available here"
        raise ModelNotFoundError(
            f"{name}: cannot get {filename} from the hub repo {repo} ({type(exc).__name__}); download it "
            f"and pass {name}@/path/to/{filename}") from None


@contextlib.contextmanager
def loading(name: str, source: str | None):
    """Turn the loaders' file/format errors into one-line user errors naming the reward."""
    where = f" from {source!r}" if source else ""
    try:
        yield
    except MmrewardError:
        raise
    except (FileNotFoundError, OSError) as exc:
        raise ModelNotFoundError(f"{name}: cannot load{where}: {exc}") from None
    except ValueError as exc:
        raise ConfigError(f"{name}: cannot load{where}: {exc}") from None
