"""Threads: the conversation model (turns), who owns a thread (principals), and the stores that keep them."""
