"""Configuration: settings from the environment and .env, problems found in it, and logging set-up."""
