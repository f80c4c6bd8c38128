"""scheduler0: a distributed cron-job server (Raft + SQLite + ZeroMQ)."""

__version__ = "0.1.0"
