"""Who may call and what they may see: principals (thread owners) and the HTTP transport's bearer tokens."""
