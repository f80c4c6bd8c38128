"""Jobs' names, descriptions and labels: set on create (one, a batch, a dry run) and update,
answered on reads, refused with messages that name the field and the fix; a name in place of
the id in paths; lists filtered by label selector and name prefix, with the other filters and
keyset pages."""

from __future__ import annotations

from typing import Any

import pytest

from scheduler0 import labels
from tests.api.helpers import NODE_AUTH, Api, basic_auth, data, error, job_body, unique

BASE = "/api/v1/jobs"


def _ids(api: Api, **query: Any) -> list[int]:
    return [job["id"] for job in data(api.get(BASE, query_string=query))["jobs"]]


def _all_ids(api: Api, **query: Any) -> list[int]:
    """Every page of a list, walked with `after`."""
    ids: list[int] = []
    after = None
    while True:
        page = data(api.get(BASE, query_string={**query, **({"after": after} if after else {})}))
        ids += [job["id"] for job in page["jobs"]]
        after = page["next_after"]
        if after is None:
            return ids


# -- create, read, update ----------------------------------------------------------------------


def test_a_job_has_no_name_an_empty_description_and_no_labels_by_default(api: Api) -> None:
    job = api.job(api.project()["id"])
    assert (job["name"], job["description"], job["labels"]) == (None, "", {})
    assert data(api.get(f"{BASE}/{job['id']}")) == job


def test_create_with_every_field_answers_it_and_reads_answer_it(api: Api) -> None:
    project = api.project()
    job = api.job(project["id"], name="nightly-report", description="sums the day's sales",
                  labels={"team": "billing", "env": "prod", "example.com/tier": "gold"})
    assert job["name"] == "nightly-report" and job["description"] == "sums the day's sales"
    assert job["labels"] == {"env": "prod", "example.com/tier": "gold", "team": "billing"}
    assert data(api.get(f"{BASE}/{job['id']}")) == job
    listed = data(api.get(BASE, query_string={"project_id": project["id"]}))["jobs"]
    # A listed job is the job plus what the jobs screen shows besides (JobListed).
    extra = {"status": "active", "callback_host": "127.0.0.1", "last_late_ms": None}
    assert listed == [{**job, **extra}]


def test_a_batch_with_shared_and_own_labels(api: Api) -> None:
    project = api.project()
    bodies = [job_body(project["id"], name=f"b-{i}", labels={"team": "web", "n": str(i % 2)})
              for i in range(6)]
    bodies[5]["labels"] = {}
    jobs = data(api.post(BASE, json=bodies), 201)
    assert [j["name"] for j in jobs] == [f"b-{i}" for i in range(6)]
    assert [j["labels"] for j in jobs] == [{"n": str(i % 2), "team": "web"} for i in range(5)] + [
        {}]
    assert [data(api.get(f"{BASE}/{j['id']}")) for j in jobs] == jobs


def test_a_thousand_jobs_sharing_labels(api: Api) -> None:
    project = api.project()
    body = [job_body(project["id"], labels={"team": "bulk", "env": "prod"}) for _ in range(1000)]
    jobs = data(api.post(BASE, json=body), 201)
    assert {str(j["labels"]) for j in jobs} == {str({"env": "prod", "team": "bulk"})}
    page = data(api.get(BASE, query_string={"labels": "team=bulk", "limit": 1000}))
    assert [j["id"] for j in page["jobs"]] == [j["id"] for j in jobs]


def test_the_same_name_in_two_projects_is_two_jobs(api: Api) -> None:
    one, two = api.project(), api.project()
    a = api.job(one["id"], name="twin")
    b = api.job(two["id"], name="twin")
    assert a["id"] != b["id"]


def test_update_sets_replaces_and_clears(api: Api) -> None:
    key = unique("key")  # a label no other test's job has
    job = api.job(api.project()["id"], labels={key: "a", f"{key}-old": "x"})
    path = f"{BASE}/{job['id']}"
    changed = data(api.put(path, json={"name": "renamed", "description": "now described",
                                       "labels": {key: "b"}}))
    assert (changed["name"], changed["description"], changed["labels"]) == (
        "renamed", "now described", {key: "b"})  # the whole set is replaced
    assert data(api.get(path)) == changed
    assert _ids(api, labels=f"{key}-old") == [] and _ids(api, labels=f"{key}=a") == []
    assert _ids(api, labels=f"{key}=b") == [job["id"]]
    cleared = data(api.put(path, json={"name": None, "description": None, "labels": None}))
    assert (cleared["name"], cleared["description"], cleared["labels"]) == (None, "", {})
    assert _ids(api, labels=key) == []
    assert data(api.put(path, json={"labels": {key: "c"}}))["labels"] == {key: "c"}
    assert _ids(api, labels=key) == [job["id"]]
    assert data(api.put(path, json={"labels": {}}))["labels"] == {}
    assert _ids(api, labels=key) == []


def test_a_job_read_with_get_can_be_sent_back_with_its_name_and_labels(api: Api) -> None:
    job = api.job(api.project()["id"], name="roundtrip", labels={"k": "v"})
    sent_back = data(api.put(f"{BASE}/{job['id']}", json={**job, "data": "edited"}))
    assert sent_back["name"] == "roundtrip" and sent_back["labels"] == {"k": "v"}


def test_a_dry_run_shows_them_and_refuses_a_taken_name_as_the_create_does(api: Api) -> None:
    project = api.project()
    shown = data(api.post(BASE, query_string={"dry_run": "true"}, json=job_body(
        project["id"], name="dry", labels={"a": "b"}, description="d")))
    assert (shown["name"], shown["labels"], shown["description"]) == ("dry", {"a": "b"}, "d")
    taken = api.job(project["id"], name="taken")
    body = [job_body(project["id"]), job_body(project["id"], name="taken")]
    expected = (f'jobs[1].name: "taken" is already the name of job {taken["id"]} in project '
                f'{project["id"]}; names are unique within a project: choose another name')
    dry = error(api.post(BASE, query_string={"dry_run": "true"}, json=body), 409, "conflict")
    real = error(api.post(BASE, json=body), 409, "conflict")
    assert dry == real == expected
    assert data(api.get(BASE, query_string={"project_id": project["id"]}))["total"] == 1


# -- refusals ----------------------------------------------------------------------------------

LABEL_RULE_FRAGMENT = "[prefix/]name"


@pytest.mark.parametrize(("fields", "code", "fragments"), [
    ({"name": "123"}, "invalid_name", ("name:", '"123" starts with a digit', "job id",
                                       'e.g. "job-123"')),
    ({"name": "9lives"}, "invalid_name", ("name:", "starts with a digit")),
    ({"name": "a b"}, "invalid_name", ("name:", "is not a job name", "a letter, then")),
    ({"name": "-x"}, "invalid_name", ("name:", "is not a job name")),
    ({"name": "é"}, "invalid_name", ("name:", "is not a job name")),
    ({"name": "x" * 129}, "invalid_name", ("name:", "too long", "at most 128")),
    ({"name": ""}, "invalid_name", ("name:", "must not be empty")),
    ({"name": 7}, "invalid_name", ("name:", "expected a string")),
    ({"description": "x" * 4097}, "invalid_description", ("description:", "at most 4096")),
    ({"description": 3}, "invalid_description", ("description:", "expected a string")),
    ({"description": "a\0b"}, "invalid_description", ("description:", "NUL")),
    ({"labels": ["team=a"]}, "invalid_labels", ("labels:", "expected an object of label keys",
                                                "got an array")),
    ({"labels": "team=a"}, "invalid_labels", ("labels:", "got a string")),
    ({"labels": {"Bad Key": "x"}}, "invalid_labels", ("labels:", 'the key "Bad Key"',
                                                      LABEL_RULE_FRAGMENT)),
    ({"labels": {"-team": "x"}}, "invalid_labels", ("labels:", "is not a label key")),
    ({"labels": {"a" * 64: "x"}}, "invalid_labels", ("labels:", "is not a label key",
                                                     "at most 63")),
    ({"labels": {"Example.com/team": "x"}}, "invalid_labels", ("labels:", "DNS subdomain")),
    ({"labels": {"/team": "x"}}, "invalid_labels", ("labels:", "empty prefix")),
    ({"labels": {"team": "a b"}}, "invalid_labels", ("labels:", 'the value "a b" of "team"',
                                                     "is not a label value", "at most 63")),
    ({"labels": {"team": "v" * 64}}, "invalid_labels", ("labels:", "is not a label value")),
    ({"labels": {"team": 5}}, "invalid_labels", ("labels:", 'the value of "team" must be a '
                                                 "string, got a number")),
    ({"labels": {f"k{i}": "v" for i in range(65)}}, "invalid_labels",
     ("labels:", "65 labels is too many; at most 64 per job")),
])
def test_bad_fields_are_refused_naming_the_field_and_the_fix(api: Api, fields: dict[str, Any],
                                                             code: str,
                                                             fragments: tuple[str, ...]) -> None:
    project = api.project()
    message = error(api.post(BASE, json=job_body(project["id"], **fields)), 400, code,
                    *fragments)
    assert message.startswith(fragments[0])
    in_batch = error(api.post(BASE, json=[job_body(project["id"]),
                                          job_body(project["id"], **fields)]), 400, code)
    assert in_batch.startswith("jobs[1]." + fragments[0])
    job = api.job(project["id"])
    error(api.put(f"{BASE}/{job['id']}", json=fields), 400, code, *fragments)
    assert data(api.get(BASE, query_string={"project_id": project["id"]}))["total"] == 1


def test_at_most_the_limit_of_labels_and_characters_is_taken(api: Api) -> None:
    at_limit = {f"k{i}": "v" * 63 for i in range(64)}
    at_limit[("d" * 253) + "/" + "n" * 63] = ""
    del at_limit["k0"]
    job = api.job(api.project()["id"], name="x" * 128, labels=at_limit, description="é" * 4096)
    assert job["labels"] == dict(sorted(at_limit.items())) and len(job["name"]) == 128


def test_a_name_taken_in_the_project_is_a_409(api: Api) -> None:
    project = api.project()
    first = api.job(project["id"], name="unique-one")
    expected = (f'"unique-one" is already the name of job {first["id"]} in project '
                f'{project["id"]}; names are unique within a project: choose another name')
    assert error(api.post(BASE, json=job_body(project["id"], name="unique-one")), 409,
                 "conflict") == f"name: {expected}"
    other = api.job(project["id"], name="other-one")
    assert error(api.put(f"{BASE}/{other['id']}", json={"name": "unique-one"}), 409,
                 "conflict") == f"name: {expected}"
    assert data(api.get(f"{BASE}/{other['id']}"))["name"] == "other-one"


def test_one_name_twice_in_a_batch_is_refused_and_nothing_is_created(api: Api) -> None:
    project = api.project()
    body = [job_body(project["id"], name="dup"), job_body(project["id"], name="solo"),
            job_body(project["id"], name="dup")]
    error(api.post(BASE, json=body), 400, "invalid_name",
          f'jobs[2].name: "dup" is also the name of jobs[0] in project {project["id"]}',
          "give each job its own")
    assert data(api.get(BASE, query_string={"project_id": project["id"]}))["total"] == 0


# -- a name in the path ------------------------------------------------------------------------


def test_a_name_stands_for_the_id_in_every_job_path(api: Api) -> None:
    project = api.project()
    job = api.job(project["id"], name=unique("by-name"))
    name = job["name"]
    assert data(api.get(f"{BASE}/{name}")) == job
    assert data(api.get(f"{BASE}/{name}", query_string={"project_id": project["id"]})) == job
    assert data(api.get(f"{BASE}/{name}/executions"))["executions"] == []
    assert data(api.put(f"{BASE}/{name}", json={"paused": True}))["paused"] is True
    assert data(api.delete(f"{BASE}/{name}")) == {"id": job["id"]}
    error(api.get(f"{BASE}/{job['id']}"), 404, "not_found")


def test_a_name_several_projects_use_needs_the_project(api: Api) -> None:
    one, two = api.project(), api.project()
    name = unique("shared")
    a, b = api.job(one["id"], name=name), api.job(two["id"], name=name)
    message = error(api.get(f"{BASE}/{name}"), 409, "ambiguous_name", f'"{name}" names more '
                    f"than one job (job {a['id']} in project {one['id']}, job {b['id']} in "
                    f"project {two['id']})", "?project_id=")
    assert "use the job's id" in message
    error(api.delete(f"{BASE}/{name}"), 409, "ambiguous_name")
    error(api.put(f"{BASE}/{name}", json={"paused": True}), 409, "ambiguous_name")
    assert data(api.get(f"{BASE}/{name}", query_string={"project_id": two["id"]}))["id"] == b["id"]
    assert data(api.delete(f"{BASE}/{name}", query_string={"projectId": one["id"]})) == {
        "id": a["id"]}
    assert data(api.get(f"{BASE}/{name}"))["id"] == b["id"]  # one left: no longer ambiguous


def test_names_and_ids_in_paths_that_find_nothing(api: Api) -> None:
    project, other = api.project(), api.project()
    job = api.job(project["id"], name=unique("here"))
    error(api.get(f"{BASE}/no-such-job"), 404, "not_found", '"no-such-job"', "in any project")
    error(api.get(f"{BASE}/{job['name']}", query_string={"project_id": other["id"]}), 404,
          "not_found", f'"{job["name"]}" in project {other["id"]}')
    error(api.get(f"{BASE}/{job['id']}", query_string={"project_id": other["id"]}), 404,
          "not_found", f"job {job['id']} is in project {project['id']}, not in project "
                       f"{other['id']}")
    error(api.delete(f"{BASE}/{job['id']}", query_string={"project_id": other["id"]}), 404,
          "not_found")
    assert data(api.get(f"{BASE}/{job['id']}"))["id"] == job["id"]  # not deleted
    for bad in ("-x", "a%20b", "1x", "%C3%A9"):
        error(api.get(f"{BASE}/{bad}"), 400, "invalid_id", "neither a job id" if not
              bad[0].isdigit() else "not a valid id")


def test_a_limited_credential_resolves_names_in_its_own_projects_only(api: Api, app: Any) -> None:
    node = Api(app.test_client(), basic_auth(*NODE_AUTH))
    mine, theirs = api.project(), api.project()
    name = unique("scoped")
    my_job, _their_job = api.job(mine["id"], name=name), api.job(theirs["id"], name=name)
    created = data(node.post("/api/v1/credentials", json={"role": "write",
                                                          "projects": [mine["id"]]}), 201)
    limited = Api(app.test_client(), {"x-api-key": created["api_key"],
                                      "x-secret-key": created["api_secret"]})
    assert data(limited.get(f"{BASE}/{name}"))["id"] == my_job["id"]  # theirs is not seen
    error(limited.get(f"{BASE}/{name}", query_string={"project_id": theirs["id"]}), 403,
          "forbidden")
    assert _ids(limited, labels="", name=name) == [my_job["id"]]


# -- lists -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fleet(api: Api) -> dict[str, Any]:
    """Two projects of labelled jobs: job -> its labels, by name."""
    one, two = api.project(), api.project()
    tag = unique("fleet").replace("-", "")  # a value of its own, so other tests' jobs stay out
    specs = {
        "alpha": (one, {"team": "billing", "env": "prod", "tier": "a", "run": tag}),
        "bravo": (one, {"team": "billing", "env": "dev", "run": tag}),
        "charlie": (one, {"team": "web", "env": "prod", "tier": "b", "run": tag}),
        "delta": (two, {"team": "billing", "env": "prod", "tier": "c", "run": tag}),
        "echo": (two, {"team": "web", "run": tag}),
        "foxtrot": (two, {"run": tag}),
    }
    jobs = {name: api.job(project["id"], name=f"{tag}-{name}", labels=job_labels,
                          paused=name in ("bravo", "delta"))
            for name, (project, job_labels) in specs.items()}
    return {"one": one, "two": two, "tag": tag, "jobs": jobs}


SELECTIONS = [
    ("team=billing", ["alpha", "bravo", "delta"]),
    ("team==billing", ["alpha", "bravo", "delta"]),
    ("team!=billing", ["charlie", "echo", "foxtrot"]),
    ("tier in (a,c)", ["alpha", "delta"]),
    ("tier notin (a,c)", ["bravo", "charlie", "echo", "foxtrot"]),
    ("tier", ["alpha", "charlie", "delta"]),
    ("!tier", ["bravo", "echo", "foxtrot"]),
    ("team=billing,env!=dev", ["alpha", "delta"]),
    ("env=prod,tier in (a,b),team", ["alpha", "charlie"]),
    ("!env,team", ["echo"]),
    ("team=billing,team=web", []),
    ("team in (billing,web),env notin (dev)", ["alpha", "charlie", "delta", "echo"]),
]


@pytest.mark.parametrize(("selector", "expected"), SELECTIONS)
def test_each_selector_lists_exactly_its_jobs(api: Api, fleet: dict[str, Any], selector: str,
                                              expected: list[str]) -> None:
    jobs = fleet["jobs"]
    query = {"labels": f"run={fleet['tag']},{selector}"}
    page = data(api.get(BASE, query_string=query))
    assert [j["id"] for j in page["jobs"]] == [jobs[name]["id"] for name in expected]
    assert page["total"] == len(expected) and page["total_exact"] is True
    # The same selector with the requirement that selects the fleet last: another driver.
    assert _ids(api, labels=f"{selector},run={fleet['tag']}") == [
        jobs[name]["id"] for name in expected]


def test_selectors_combine_with_the_other_filters(api: Api, fleet: dict[str, Any]) -> None:
    jobs, run = fleet["jobs"], f"run={fleet['tag']}"
    ids = {name: job["id"] for name, job in jobs.items()}
    assert _ids(api, labels=f"{run},team=billing", project_id=fleet["two"]["id"]) == [
        ids["delta"]]
    assert _ids(api, labels=f"{run},team=billing", paused="true") == [ids["bravo"], ids["delta"]]
    assert _ids(api, labels=f"{run},team=billing", paused="false") == [ids["alpha"]]
    assert _ids(api, labels=f"{run},!tier", failing="false") == [
        ids["bravo"], ids["echo"], ids["foxtrot"]]
    assert _ids(api, labels=f"{run},tier", name=f"{fleet['tag']}-c") == [ids["charlie"]]
    assert _ids(api, name=f"{fleet['tag']}-") == list(ids.values())
    assert _ids(api, name=f"{fleet['tag']}-e", project_id=fleet["two"]["id"]) == [ids["echo"]]
    assert _ids(api, name=f"{fleet['tag']}-e", project_id=fleet["one"]["id"]) == []


@pytest.mark.parametrize("query", [
    {"labels": "team=billing"}, {"labels": "team"}, {"labels": "team in (billing,web)"},
    {"labels": "team!=billing"}, {"labels": "team=billing", "paused": "false"}])
def test_keyset_pages_walk_a_selection_without_gaps_or_repeats(api: Api, fleet: dict[str, Any],
                                                               query: dict[str, str]) -> None:
    query = {**query, "labels": f"{query['labels']},run={fleet['tag']}"}
    everything = _ids(api, **query, limit=1000)
    assert everything and everything == sorted(everything)
    assert _all_ids(api, **query, limit=1) == everything
    assert _all_ids(api, **query, limit=2) == everything
    name_pages = _all_ids(api, name=fleet["tag"], limit=2)
    assert name_pages == sorted(job["id"] for job in fleet["jobs"].values())


def test_a_selector_on_an_unused_label_lists_nothing(api: Api) -> None:
    page = data(api.get(BASE, query_string={"labels": f"{unique('never')}=x"}))
    assert (page["jobs"], page["total"], page["next_after"]) == ([], 0, None)


@pytest.mark.parametrize(("selector", "fragment"), [
    ("team billing", "expected =, ==, !=, in, notin"),
    ("tier in (a", "expected ',' or ')'"),
    ("tier in a", "expected '(' after in/notin"),
    ("team=billing,", "expected a label key"),
    ("Bad Key=x", "expected =, =="),
    ("-team=x", "is not a label key"),
    ("team=a b", "expected ',' between requirements"),
    ("team=-x", "is not a label value"),
    ("x" * 5000, "at most 4096"),
])
def test_a_bad_selector_is_a_400_naming_labels_and_the_grammar(api: Api, selector: str,
                                                               fragment: str) -> None:
    message = error(api.get(BASE, query_string={"labels": selector}), 400, "invalid_labels",
                    fragment)
    assert message.startswith("labels: ")
    if len(selector) <= 4096:
        assert labels.GRAMMAR in message


@pytest.mark.parametrize("prefix", ["1a", "-a", "a b", "é", "x" * 129])
def test_a_bad_name_prefix_is_a_400_naming_name(api: Api, prefix: str) -> None:
    error(api.get(BASE, query_string={"name": prefix}), 400, "invalid_name", "name:",
          "not the start of a job name", "a letter, then")
