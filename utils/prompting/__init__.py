"""Prompt building: the token budget, token counting, assembling a prompt under it, and render caches."""
