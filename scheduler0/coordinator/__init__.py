"""The coordinator process (`python -m scheduler0.child coordinator`, started by the supervisor).

It is the node's Raft member and the only writer of its SQLite file. `process.run` starts the
Raft node, answers the API process on the `commands` socket, and runs these threads:

    on every node
        intake.IntakeRelay       batches from the leader -> this node's executors; lease acks
        results.ResultCollector  executor results -> RESULT commands through Raft
        heartbeat.Heartbeat      this node's lease, holdings and load -> every node
    working only on the leader
        planner.Planner          due ticks -> PLAN commands -> batches to the nodes (placement,
                                 dispatcher); re-dispatch and reconcile
        lease_desk.LeaseDesk     heartbeats -> lease renewals; notices lapsed leases
        pruner.Pruner            deletes history older than the retention

Each is a supervised.SupervisedThread. raft.py and raft_wire.py wrap pysyncobj. The leader's
threads take their Raft node, store reads and sockets as the Protocols of ports.py and read
the time through a scheduler0.clock.Clock, so tests can drive them on fakes.
"""
