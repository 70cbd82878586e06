"""The scheduler: a registry of idempotent jobs, run by APScheduler under a single-runner lock."""
