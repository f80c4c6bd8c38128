"""Job names, label keys and values, and label selectors (scheduler0.labels): pure rules."""

from __future__ import annotations

import pytest

from scheduler0 import labels
from scheduler0.labels import (
    EQUALS,
    EXISTS,
    IN,
    NOT_EQUALS,
    NOT_EXISTS,
    NOT_IN,
    LabelError,
    Requirement,
    parse_selector,
)

# -- selectors: each operator ------------------------------------------------------------------


@pytest.mark.parametrize(("text", "expected"), [
    ("team=billing", Requirement("team", EQUALS, ("billing",))),
    ("team==billing", Requirement("team", EQUALS, ("billing",))),
    ("team!=billing", Requirement("team", NOT_EQUALS, ("billing",))),
    ("tier in (a,b)", Requirement("tier", IN, ("a", "b"))),
    ("tier notin (a,b)", Requirement("tier", NOT_IN, ("a", "b"))),
    ("tier notin(a)", Requirement("tier", NOT_IN, ("a",))),
    ("team", Requirement("team", EXISTS)),
    ("!team", Requirement("team", NOT_EXISTS)),
    ("env=", Requirement("env", EQUALS, ("",))),
    ("example.com/team=web", Requirement("example.com/team", EQUALS, ("web",))),
    ("  tier   in  ( a , b , a )  ", Requirement("tier", IN, ("a", "b"))),
    ("in in (in)", Requirement("in", IN, ("in",))),
])
def test_each_operator(text: str, expected: Requirement) -> None:
    assert parse_selector(text) == (expected,)


def test_requirements_are_separated_by_commas_outside_the_lists() -> None:
    assert parse_selector("team=billing,env!=dev,tier in (a,b),!legacy,owner") == (
        Requirement("team", EQUALS, ("billing",)), Requirement("env", NOT_EQUALS, ("dev",)),
        Requirement("tier", IN, ("a", "b")), Requirement("legacy", NOT_EXISTS),
        Requirement("owner", EXISTS))


def test_an_empty_selector_selects_everything() -> None:
    assert parse_selector("") == () and parse_selector("   ") == ()


def test_positive_requirements_are_those_the_index_can_list() -> None:
    positive = {r.op for r in parse_selector("a=1,b!=2,c in (3),d notin (4),e,!f") if r.positive}
    assert positive == {EQUALS, IN, EXISTS}


@pytest.mark.parametrize(("text", "fragments"), [
    ("team=billing,", ("expected a label key", "at the end")),
    (",team", ("expected a label key", "position 0")),
    ("=x", ("expected a label key",)),
    ("team billing", ("expected =, ==, !=, in, notin", "'team'")),
    ("tier in a", ("expected '(' after in/notin",)),
    ("tier in (a", ("expected ',' or ')'",)),
    ("tier in ()", ("expected at least one value",)),
    ("tierin (a)", ("expected =, ==, !=, in, notin",)),
    ("team=a b", ("expected ',' between requirements", "position 7")),
    ("!team=x", ("expected ',' between requirements",)),
    ("team=bill ing", ("expected ','",)),
    ("Team Key=x", ("expected =, ==",)),
    ("-team=x", ("is not a label key",)),
    ("Example.com/team=x", ("prefix that is not a DNS subdomain",)),
    ("/team=x", ("empty prefix",)),
    ("team=-x", ("is not a label value",)),
    ("team=" + "v" * 64, ("is not a label value",)),
    ("team=x;y", ("expected ','",)),
    (",".join(["a"] * 33), ("more than 32 requirements",)),
    ("t in (" + ",".join(map(str, range(65))) + ")", ("65 values", "at most 64")),
])
def test_bad_selectors_say_what_and_where(text: str, fragments: tuple[str, ...]) -> None:
    with pytest.raises(LabelError) as caught:
        parse_selector(text)
    for fragment in fragments:
        assert fragment in str(caught.value), (fragment, str(caught.value))


# -- keys and values ---------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["team", "a", "A.b-c_d", "example.com/team", "a" * 63,
                                 "x-y.example/z", ("d" * 253) + "/n"])
def test_good_keys(key: str) -> None:
    assert labels.key_problem(key) is None


@pytest.mark.parametrize(("key", "fragment"), [
    ("", "is not a label key"), ("a" * 64, "is not a label key"), ("-a", "is not a label key"),
    ("a-", "is not a label key"), ("a b", "is not a label key"), ("é", "is not a label key"),
    ("/a", "empty prefix"), ("Ex.com/a", "DNS subdomain"), ("a..b/c", "DNS subdomain"),
    (("d" * 254) + "/n", "DNS subdomain"), ("a/b/c", "DNS subdomain")])
def test_bad_keys(key: str, fragment: str) -> None:
    problem = labels.key_problem(key)
    assert problem is not None and fragment in problem and "[prefix/]name" in problem


@pytest.mark.parametrize("value", ["", "prod", "a.b_c-d", "0", "v" * 63])
def test_good_values(value: str) -> None:
    assert labels.value_problem(value) is None


@pytest.mark.parametrize("value", ["v" * 64, "-x", "x-", "a b", "a/b", "é", "x\n"])
def test_bad_values(value: str) -> None:
    problem = labels.value_problem(value, "team")
    assert problem is not None and 'of "team"' in problem and "at most 63" in problem


def test_a_label_set_is_checked_and_kept_as_one_canonical_text() -> None:
    checked = labels.checked({"team": "billing", "env": "prod"})
    assert labels.canonical_text(checked) == '{"env":"prod","team":"billing"}'
    assert labels.canonical_text({"env": "prod", "team": "billing"}) == labels.canonical_text(
        {"team": "billing", "env": "prod"})
    assert labels.canonical_text({}) is None
    assert labels.from_text(None) == {} and labels.from_text('{"a":"b"}') == {"a": "b"}


@pytest.mark.parametrize(("given", "fragment"), [
    ({f"k{i}": "v" for i in range(65)}, "65 labels is too many; at most 64"),
    ({"team": 5}, 'the value of "team" must be a string, got a number'),
    ({"team": None}, "got null"),
    ({"bad key": "x"}, 'the key "bad key" is not a label key'),
    ({"team": "a b"}, 'the value "a b" of "team" is not a label value'),
])
def test_bad_label_sets(given: dict[str, object], fragment: str) -> None:
    with pytest.raises(LabelError, match=fragment):
        labels.checked(given)


# -- names -------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["a", "nightly-report", "Job_1.v2", "x" * 128, "a-"])
def test_good_names(name: str) -> None:
    assert labels.name_problem(name) is None


@pytest.mark.parametrize(("name", "fragment"), [
    ("123", "starts with a digit"), ("1abc", 'e.g. "job-1abc"'), ("x" * 129, "at most 128"),
    ("-a", "is not a job name"), ("a b", "is not a job name"), ("é", "is not a job name"),
    ("a\n", "is not a job name"), ("", "is not a job name"), (".hidden", "is not a job name")])
def test_bad_names(name: str, fragment: str) -> None:
    problem = labels.name_problem(name)
    assert problem is not None and fragment in problem


def test_a_prefix_range_holds_exactly_the_names_that_start_with_it() -> None:
    low, high = labels.prefix_bounds("ab")
    names = ["a", "ab", "ab-", "abz", "ab.9", "abzzzz", "ac", "b", "aa", "aB", "ab_"]
    assert sorted(n for n in names if low <= n < high) == sorted(
        n for n in names if n.startswith("ab"))
