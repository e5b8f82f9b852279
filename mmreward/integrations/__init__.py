"""mmreward as the reward inside other people's RL loops, one module per integration:

- `trl.py`: `GRPOReward`, a TRL `GRPOTrainer` reward function (completions with their images);
- `verl.py`: `compute_score` / `compute_score_async`, a verl custom reward function;
- `openrlhf.py`: `make_label` for datasets, `reward_func` for an in-process reward
  (the service's `/get_reward` is the remote one);
- `imagegen.py`: `GenerationReward`, Flow-GRPO / DanceGRPO style `fn(images, prompts, metadata)`;
- `best_of_n.py`: `best_of_n`, rank N candidates for one prompt.

Each takes a loaded reward model (anything `mmreward.load` returns), a name to load, or a
service URL (`mmreward serve`); `common.py` holds what they share.
"""
