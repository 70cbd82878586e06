"""Livestream providers behind one small interface (static links, YouTube Live), their registry,
Google credentials, quota and health. They know nothing of series or sessions: vcs/livestream/
drives them with broadcast plans.
"""
