"""The staff: accounts with roles and argon2id passwords, and log-in throttling."""
