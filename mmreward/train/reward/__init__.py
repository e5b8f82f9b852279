"""Recipes that train a reward model: Bradley-Terry on the scalar head, yes-token SFT."""
