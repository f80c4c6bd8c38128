"""The overview's counts (GET /summary), each from a counter or an index, never a scan of the
jobs: the jobs (the counter; a scoped view counts jobs_project ranges), the paused ones
(jobs_paused), the failing ones (job_last_failing), the completed ones (the schedules with no
fire time left, from schedules_next_fire, and their jobs from jobs_schedule; a job whose own
end_date passed while its schedule goes on is not among them: no index has it), and the last
day's executions from the hourly rollups. Counts past CAP are answered as CAP, not exact.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from scheduler0.store import counters, history

CAP = 10_000
DAY = 86_400


def _capped(conn: sqlite3.Connection, select_one: str, params: Sequence[Any]
            ) -> tuple[int, bool]:
    (found,) = conn.execute(f"SELECT count(*) FROM ({select_one} LIMIT {CAP + 1})",
                            params).fetchone()
    return (CAP, False) if found > CAP else (int(found), True)


def summary(conn: sqlite3.Connection, now: int, scope: tuple[int, ...] | None
            ) -> dict[str, Any]:
    """{jobs: {total, paused, failing, completed, exact: {...}}, last_day: {since, succeeded,
    failed, missed}} for every project, or those of `scope`."""
    marks = ", ".join("?" * len(scope)) if scope is not None else ""
    in_scope = f" AND j.project_id IN ({marks or 'NULL'})" if scope is not None else ""
    params = list(scope or ())
    if scope is None:
        total, total_exact = counters.read(conn)[counters.JOBS], True
    else:
        total, total_exact = _capped(conn, "SELECT 1 FROM jobs j INDEXED BY jobs_project "
                                     f"WHERE 1{in_scope}", params)
    paused = _capped(conn, "SELECT 1 FROM jobs j INDEXED BY jobs_paused WHERE j.paused = 1"
                     + in_scope, params)
    failing = _capped(conn, "SELECT 1 FROM job_last l INDEXED BY job_last_failing "
                      "CROSS JOIN jobs j ON j.id = l.job_id WHERE l.state > 0" + in_scope,
                      params)
    completed = _capped(conn, "SELECT 1 FROM schedules s INDEXED BY schedules_next_fire "
                        "CROSS JOIN jobs j INDEXED BY jobs_schedule ON j.schedule_id = s.id "
                        "WHERE s.next_fire_at IS NULL AND j.paused = 0" + in_scope, params)
    since = (now - DAY) // history.HOUR * history.HOUR + history.HOUR
    terms = "period >= ?" + (f" AND project_id IN ({marks or 'NULL'})" if scope is not None
                             else "")
    row = conn.execute("SELECT coalesce(sum(succeeded), 0), coalesce(sum(failed), 0), "
                       f"coalesce(sum(missed), 0) FROM rollup_hour WHERE {terms}",
                       [since, *params]).fetchone()
    return {
        "jobs": {"total": total, "paused": paused[0], "failing": failing[0],
                 "completed": completed[0],
                 "exact": {"total": total_exact, "paused": paused[1], "failing": failing[1],
                           "completed": completed[1]}},
        "last_day": {"since": since, "succeeded": row[0], "failed": row[1], "missed": row[2]},
    }
