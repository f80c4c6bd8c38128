"""The leader puts a rotated project's previous secret into each batch while its grace period
lasts (by the leader's clock), so the node delivering it needs no lookup. Fake time; no
processes."""

from __future__ import annotations

from scheduler0 import messages


def test_a_batch_carries_the_previous_secret_only_during_its_grace_period(rig):
    rig.lead()
    now = int(rig.clock.now())
    rig.schedule(1, now + 1, rig.job(5, spec="@every 1s", project=1),
                 rig.job(6, spec="@every 1s", project=2), spec="@every 1s", anchor=now)
    rig.reader.previous[1] = messages.PreviousSecret(secret="old-1", expires_at=now + 3)
    rig.run_until(lambda: rig.clock.now() > now + 6 + rig.settings.planner_look_ahead)
    batches = [m for _, m in rig.pusher.of_type("batch")]
    assert batches
    for batch in batches:
        assert batch["signing_secrets"] == {"1": "secret-1", "2": "secret-2"}
    carried = [b["previous_secrets"] for b in batches]
    assert {"1": {"secret": "old-1", "expires_at": now + 3}} in carried
    assert {} in carried  # the batches planned once the leader's clock passed the expiry
    assert all(set(p) <= {"1"} for p in carried)  # project 2 was never rotated
    # None sent once the grace period was over carries the old secret.
    for at, (_, message) in zip(rig.sent_at, rig.pusher.sent, strict=False):
        if message.get("type") == "batch" and at >= now + 3:
            assert message["previous_secrets"] == {}


def test_batch_of_keeps_only_the_batchs_projects():
    job = _Job(7, 3)
    previous = {3: messages.PreviousSecret(secret="old", expires_at=10),
                4: messages.PreviousSecret(secret="elsewhere", expires_at=10)}
    batch = messages.Batch.of("b", 5, [job], {3: "new", 4: "x"}, 20, previous=previous)
    assert batch.signing_secrets == {"3": "new"}
    assert batch.previous_secrets == {"3": messages.PreviousSecret(secret="old", expires_at=10)}
    decoded = messages.BATCHES.decode(messages.encode(batch))
    assert decoded is not None and decoded.previous_secrets == batch.previous_secrets


class _Job:
    def __init__(self, job_id: int, project_id: int) -> None:
        self.id, self.project_id = job_id, project_id
        self.spec, self.timezone, self.data = "@hourly", "UTC", ""
        self.callback_url = "http://127.0.0.1:9/x"
        self.delivery = None
