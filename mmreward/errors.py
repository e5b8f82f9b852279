"""The project's error model (docs/architecture.md, "Errors").

Three kinds of failure, three behaviours:
- `MmrewardError` and its subclasses: something the *user* gave cannot be used (an option,
  a file, a checkpoint, a missing optional extra). The CLI catches it once (`mmreward.cli`),
  prints one line `mmreward COMMAND: message` and exits 2. Library code raises these, never
  `SystemExit`.
- `RecordError` (a `MmrewardError` too): one record cannot be scored. The scoring engine turns
  it into that record's `{"id", "error"}` output; the run goes on. `MediaError` (its media),
  `MediaNotFoundError` (retryable: a resumed run tries it again), `ModelInputError` (the model
  fails on that input alone: out of memory, input refused) are its kinds.
- anything else is a bug and fails loudly (traceback, non-zero exit).
"""
from __future__ import annotations

import importlib


class MmrewardError(Exception):
    """A user-facing error: the message says what was given and why it cannot be used."""


class ConfigError(MmrewardError, ValueError):
    """An option value, or a --config file, that cannot be used."""


class InputError(MmrewardError, ValueError):
    """An input or output file or directory named by the user that cannot be used."""


class ModelNotFoundError(MmrewardError, FileNotFoundError):
    """A model name that is a local path with nothing (or no checkpoint) there."""


class TrainingError(MmrewardError):
    """A training run that cannot go on (a non-finite loss or weight); nothing non-finite is saved."""


class MissingExtraError(MmrewardError, ImportError):
    """An optional dependency that is not installed; the message names the extra to install."""


class RecordError(MmrewardError, ValueError):
    """A record that cannot be scored; the message says which part and why."""

    #: True when the cause is likely the environment, not the record (a media file not there
    #: yet): the error line is marked `"retryable": true` and a resumed run scores it again.
    retryable = False


class MediaError(RecordError):
    """A media reference in a record that cannot be used (missing, unreadable, over a cap)."""


class MediaNotFoundError(MediaError):
    """A media file that is not under the media root (a wrong root or files still copying)."""

    retryable = True


class ModelInputError(RecordError):
    """The model cannot score this well-formed input: out of memory on it alone, or the
    processor or model refusing it (transformers' input checks raise ValueError)."""


def require(module: str, extra: str, purpose: str | None = None):
    """Import `module`, or raise MissingExtraError naming `pip install 'mmreward[extra]'`."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        what = f" for {purpose}" if purpose else ""
        raise MissingExtraError(
            f"{module} is needed{what} but is not installed ({exc}); "
            f"install it with: pip install 'mmreward[{extra}]'") from None
