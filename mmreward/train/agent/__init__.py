"""Recipes that train the video agent (policy): traces SFT, rejection sampling (RFT), GRPO."""
