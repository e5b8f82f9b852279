"""Media layer: CLIP zero-shot rewards (VLM-RM) and MuJoCo rendering.

This package imports third-party libraries only (never `mmreward`, `eval` or
`video`). Submodules are imported explicitly (`from vision.projection import
projection_reward`) so that importing `vision` itself stays free of torch,
transformers and mujoco.

Modules:
  images        the one image loader: files, bytes, PIL, arrays, tensors -> upright 8-bit RGB
                (pixel cap from the header, faithful decoding)
  projection    the goal-baseline projection reward on embedding tensors
  tiny_clip     the offline tiny CLIP checkpoint (real BPE vocabulary, random weights)
  clip_embed    `ClipEmbedder`: text / image embeddings of any transformers CLIP / SigLIP
  clip_reward   `ClipReward`: any CLIP / SigLIP checkpoint as a frame -> reward model
  open_clip_embed `OpenClipEmbedder`: an open_clip model from a release state-dict file (HPSv2)
  ocr           `OcrEngine`: the PP-OCRv4 ONNX models of rapidocr-onnxruntime, batched
  mujoco_render offscreen GL backend choice, the textured VLM-RM humanoid, env factory
  gym_wrapper   `ClipRewardWrapper`: env reward -> CLIP reward of the rendered frame
  epic          EPIC distance between reward functions
  rollout       rollouts with a CLIP reward; rollout_report writes their outputs
"""
