"""Membership: the member directory, its CSV files, and self-service subscriptions."""
