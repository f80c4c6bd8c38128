"""Every API operation as a function that builds its `Call`, one module per resource: the one
definition both clients are made of (scheduler0_client._api binds each to a method).

Writes take `idempotency_key`; without one, a fresh key is made for the call and sent at
every retry of it. A job in a path is its id or its name (`project_id` says in which project
to look for a name; with an id it is a check).
"""
