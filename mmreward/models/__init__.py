"""Reward models: the Qwen-VL backbone, the scalar head and yes-token read-outs, the tiny preset."""
