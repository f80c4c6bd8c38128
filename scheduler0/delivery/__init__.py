"""Callback delivery, used by the executor processes.

    core.py    the pure part: chunking, fair queues, budgets, metrics (no sockets, no clock)
    client.py  the aiohttp client that POSTs the callbacks
    target.py  which callback addresses a node may call (the SSRF guard)
"""
