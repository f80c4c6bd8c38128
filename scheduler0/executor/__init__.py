"""The executor processes (`python -m scheduler0.child executor --index N`, N per node).

`process.run` pulls batches from the coordinator's intake relay, holds each until its tick,
POSTs the callbacks through scheduler0.delivery while the batch's lease is valid, and publishes
the results (and load reports) back to the coordinator.
"""
