"""FSDP2 and DeepSpeed for the recipes, through accelerate (and the Trainer), not by hand.

What this module adds to what accelerate does by itself, and why:
  - `fsdp_on_cpu`: accelerate turns its FSDP plugin on only for GPU process groups; on CPU
    processes (gloo: the tests, this project's CI) it would silently run DDP. FSDP2's
    `fully_shard` itself runs over gloo, so on CPU we set the distributed type accelerate would
    have set on GPUs. GPUs never take this path.
  - `layer_classes`: the recipes wrap a transformers model in a small module (reward head,
    token log-probs); accelerate reads the classes to shard one by one (`_no_split_modules`,
    the decoder and vision blocks) from the model it is given, so we read them from the
    transformers model inside.
  - `gathered`: GRPO generates its rollouts with the whole policy. Under FSDP every process
    gathers the full weights once (`unshard`), generates with no collective in the loop (so
    processes may generate different numbers of tokens), then frees them (`reshard`).
  - `local_bytes`: bytes a tensor holds on this process (its shard, for a DTensor), which is
    what the memory plan predicts and the tests measure.
"""
from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

import torch

from mmreward.errors import ConfigError, MissingExtraError


def transformers_model(module):
    """The transformers model inside a recipe's module (reward module, TokenLogprobs, a view of
    either such as AnswerLogits) or itself."""
    for name in ("backbone", "policy", "module"):
        inner = getattr(module, name, None)
        if isinstance(inner, torch.nn.Module):
            return transformers_model(inner)
    return module


def layer_classes(module) -> list[str]:
    """Class names FSDP shards one by one (decoder and vision blocks), from the transformers model."""
    names = getattr(transformers_model(module), "_no_split_modules", None) or []
    present = {type(m).__name__ for m in module.modules()}
    return [n for n in names if n in present]


def fsdp_plugin_args(args: dict | None, module) -> dict | None:
    """The Trainer's FSDP plugin arguments with the layer classes of `module` filled in."""
    if args is None:
        return None
    args = dict(args)
    classes = layer_classes(module)
    if classes and "transformer_cls_names_to_wrap" not in args and str(args.get("auto_wrap_policy", "")).upper(
            ).startswith("TRANSFORMER"):
        args["transformer_cls_names_to_wrap"] = ",".join(classes)
    return args


def fsdp_on_cpu(accelerator, plugin) -> bool:
    """Make CPU processes shard with `plugin` (None: not shard), see the module's docstring; returns
    whether this run shards. The state is accelerate's process-wide singleton: a run in the same
    Python process as an earlier one (tests, benchmarks) sets it back as its own options say."""
    from accelerate.state import PartialState
    from accelerate.utils import DistributedType

    state = accelerator.state
    if plugin is not None:
        quiet_view_warning()
    if accelerator.device.type != "cpu":  # accelerate's own decision (its options or `accelerate launch`'s)
        return getattr(state, "fsdp_plugin", None) is not None
    if state.distributed_type not in (DistributedType.MULTI_CPU, DistributedType.FSDP):
        state.fsdp_plugin = None  # one process: nothing to shard
        return False
    if plugin is not None and accelerator.mixed_precision != "no":
        plugin.set_mixed_precision(accelerator.mixed_precision)
    kind = DistributedType.FSDP if plugin is not None else DistributedType.MULTI_CPU
    state.distributed_type = kind
    state.fsdp_plugin = plugin
    PartialState._shared_state["distributed_type"] = kind
    return plugin is not None


def quiet_view_warning() -> None:
    """FSDP2 warns when a module returns a view (the reward heads' squeeze): an in-place op on it would
    skip a hook. No recipe modifies a module's output in place."""
    import warnings

    warnings.filterwarnings("ignore", message=r"FSDP2-wrapped module .* returned a view tensor")


def require_deepspeed(config) -> None:
    """DeepSpeed is passed through to the Trainer / accelerate; say so at once when it is missing."""
    if not config:
        return
    if isinstance(config, str) and not Path(config).is_file():
        raise ConfigError(f"--deepspeed {config}: no such file (the DeepSpeed JSON config)")
    try:
        import deepspeed  # noqa: F401
    except ImportError as exc:
        raise MissingExtraError(
            f"--deepspeed {config}: DeepSpeed is not installed ({exc}); install it with "
            "`pip install --no-build-isolation deepspeed` (beside torch), or shard with --fsdp") from None


def require_launch(option: str) -> None:
    """DeepSpeed finds its processes in the variables a launcher sets (without them it looks for MPI)."""
    import os

    if "RANK" not in os.environ:
        raise ConfigError(f"{option} runs under a launcher, also for one process: torchrun --nproc_per_node N "
                          "-m mmreward.cli train ... (or accelerate launch, or deepspeed)")


def start_deepspeed_comm() -> None:
    """DeepSpeed's communicator, on the process group the Trainer / accelerate started.

    ZeRO-3 partitions the weights while `from_pretrained` reads them (`deepspeed.zero.Init`) and
    sizes the partitions from DeepSpeed's communicator; accelerate starts it only for GPU process
    groups, so on CPU processes (gloo, DeepSpeed's CPU accelerator) every process would partition
    for a world of one. Call before the model is loaded. The process group is then ended at exit:
    left to the interpreter's teardown, DeepSpeed's CPU processes abort ("terminate called
    without an active exception") after a run that succeeded."""
    import atexit

    import deepspeed
    import torch.distributed as dist

    if dist.is_initialized() and not deepspeed.comm.is_initialized():
        deepspeed.init_distributed(dist_backend=dist.get_backend(), auto_mpi_discovery=False)
        atexit.register(end_process_group)


def end_process_group() -> None:
    import torch.distributed as dist

    if dist.is_initialized():
        dist.destroy_process_group()


def fsdp_modules(model) -> list:
    from torch.distributed.fsdp import FSDPModule

    return [m for m in model.modules() if isinstance(m, FSDPModule)]


@contextmanager
def gathered(model):
    """The full weights on every process for the duration (no-op without FSDP): see the docstring."""
    units = fsdp_modules(model)
    if not units:
        yield model
        return
    # FSDP sets its units up at the root's first forward; generation calls the inner model, whose
    # units would each set themselves up as a root, so the root is set up first (private API)
    model._get_fsdp_state()._lazy_init()
    kept = []
    for unit in units:
        kept.append(unit._get_fsdp_state()._fsdp_param_group.post_forward_mesh_info)
        unit.set_reshard_after_forward(False, recurse=False)  # a forward inside keeps the weights gathered
        unit.unshard()
    try:
        yield model
    finally:
        for unit, mesh_info in zip(units, kept):
            unit.reshard()
            unit._get_fsdp_state()._fsdp_param_group.post_forward_mesh_info = mesh_info


def local_tensor(t: torch.Tensor) -> torch.Tensor:
    if hasattr(t, "ds_tensor"):  # a ZeRO-3 parameter: its own data is empty, this is the partition
        return t.ds_tensor
    return t.to_local() if hasattr(t, "to_local") else t


def local_bytes(tensors) -> int:
    """Bytes the tensors hold on this process (a DTensor's local shard; shared tensors once)."""
    seen, total = set(), 0
    for t in tensors:
        if t is None:
            continue
        local = local_tensor(t)
        key = (local.untyped_storage().data_ptr(), local.storage_offset(), local.numel())
        if key in seen:
            continue
        seen.add(key)
        total += local.numel() * local.element_size()
    return total


def measured_bytes(model, optimizer, deepspeed: bool = False) -> dict:
    """Parameters, gradients and optimizer state held by this process, in bytes (call after a step,
    before the gradients are cleared). Under DeepSpeed the gradients live in ZeRO's own buffers, not
    in `.grad` (None: not measured), and the optimizer state is that of ZeRO's flat partitions."""
    params = list(model.parameters())
    states = [v for s in optimizer.state.values() for v in s.values() if torch.is_tensor(v) and v.dim() > 0]
    return {"params_bytes": local_bytes(params),
            "grads_bytes": None if deepspeed else local_bytes(p.grad for p in params if p.requires_grad),
            "optimizer_bytes": local_bytes(states)}


def accelerator_for(module, bf16: bool, fsdp: bool = False, shard_size: int | None = None, deepspeed=None,
                    micro_batch: int = 1, max_grad_norm: float = 0.0):
    """The Accelerator of a hand-written loop (GRPO): DDP, FSDP2 (sharding `module`'s layers one by
    one; hybrid with `shard_size`), or DeepSpeed from its JSON config, as the Trainer would set them up
    (the loop has no data loader for DeepSpeed to read its batch size from: "auto" is `micro_batch`;
    DeepSpeed clips inside its step, so the loop's `max_grad_norm` becomes the config's clipping
    unless the config gives its own)."""
    from accelerate import Accelerator
    from accelerate.utils import DeepSpeedPlugin, FullyShardedDataParallelPlugin

    from mmreward.launch import cpu_only
    from mmreward.train.common import hybrid_sharding, world_size

    plugin = None
    kwargs = {"cpu": cpu_only(), "mixed_precision": "bf16" if bf16 else "no"}
    if fsdp:
        plugin = FullyShardedDataParallelPlugin(
            fsdp_version=2, auto_wrap_policy="transformer_based_wrap", state_dict_type="SHARDED_STATE_DICT",
            transformer_cls_names_to_wrap=layer_classes(module), reshard_after_forward=True)
        kwargs.update(fsdp_plugin=plugin, parallelism_config=hybrid_sharding(shard_size))
    elif deepspeed:
        require_deepspeed(deepspeed)
        from accelerate.state import AcceleratorState

        from mmreward.launch import process_state

        # As the Trainer does it: the processes first (over gloo without a GPU), then an Accelerator not
        # told `cpu` (with it accelerate ignores the plugin and runs DDP), which keeps them and takes
        # DeepSpeed (its CPU accelerator where there is no GPU). An earlier run's Accelerator state in
        # the same process (tests, benchmarks) is dropped: accelerate refuses a second plugin.
        process_state()
        AcceleratorState._reset_state()
        kwargs["cpu"] = False
        plugin_ds = DeepSpeedPlugin(hf_ds_config=deepspeed)
        config = plugin_ds.deepspeed_config
        for key, value in (("train_micro_batch_size_per_gpu", micro_batch), ("gradient_accumulation_steps", 1),
                           ("train_batch_size", micro_batch * world_size()), ("gradient_clipping", max_grad_norm)):
            if config.get(key, "auto") == "auto":
                config[key] = value
        kwargs["deepspeed_plugin"] = plugin_ds
    accelerator = Accelerator(**kwargs)
    fsdp_on_cpu(accelerator, plugin)
    if deepspeed:
        start_deepspeed_comm()
    return accelerator


def shard_frozen(accelerator, module):
    """A frozen module (GRPO's KL reference) sharded like the trained one under FSDP (without being
    registered for checkpoints); placed on the device otherwise."""
    if not accelerator.is_fsdp2:
        return module.to(accelerator.device)
    from accelerate.utils.fsdp_utils import fsdp2_prepare_model

    return fsdp2_prepare_model(accelerator, module)
