"""vcs: a videoconference series manager for a network of municipal youth workers."""

__version__ = "0.1.0"
