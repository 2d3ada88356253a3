"""What must stay private: secrets redacted from everything that leaves, files only the server's user can read."""
