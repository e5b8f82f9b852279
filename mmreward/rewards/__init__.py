"""The standard image-generation rewards as reward models, and their weighted combinations.

One module per reward, each a `mmreward.scoring.base.BaseRewardModel` with its family spec
(`FAMILY`: names, typed options, catalog rows) and a `load(name_or_path, mode, options)` that
`mmreward.registry` dispatches to:

  clipscore   CLIPScore, w * max(cos, 0) (jmhessel/clipscore)
  pickscore   PickScore, exp(logit_scale) * cos (yuvalkirstain/PickScore)
  hpsv2       HPSv2 / HPSv2.1, cos of the preference-tuned open_clip ViT-H-14 (tgxs002/HPSv2)
  aesthetic   the LAION aesthetic MLP on normalised CLIP ViT-L/14 embeddings
  ocr         1 - normalised edit distance of the quoted text to what PP-OCRv4 reads (Flow-GRPO)
  combo       `combo:a=1,b=0.5` or a spec file: the weighted sum (or mean: an ensemble), each part in
              `dimensions`

`base.py` holds what they share (one image per candidate, batching across records, the options
and the family spec of an image reward),
`sources.py` how each finds its weights (`NAME@PATH_OR_HUB_ID`).
"""
