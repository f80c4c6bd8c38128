"""The console's session token and CSRF token (scheduler0.api.session): pure, no Flask."""

from __future__ import annotations

import pytest

from scheduler0.api import session

KEY = session.session_key("the-cluster-secret-key")
NOW = 1_800_000_000
BINDING = "stored-secret-hash"


def test_a_token_verifies_with_its_key_and_binding_and_says_who() -> None:
    token = session.issue(KEY, "credential", "key.with.dots-ü", BINDING, NOW)
    claims = session.verify(KEY, token, BINDING, NOW + 60)
    assert claims == session.Claims("credential", "key.with.dots-ü", NOW,
                                    NOW + session.LIFETIME_SECONDS)
    assert session.LIFETIME_SECONDS == 12 * 3600


def test_every_node_of_a_cluster_derives_the_same_key_and_not_the_secret_itself() -> None:
    assert session.session_key("the-cluster-secret-key") == KEY
    assert session.session_key("another-cluster") != KEY
    assert b"the-cluster-secret-key" not in KEY


@pytest.mark.parametrize("key, binding", [(session.session_key("other"), BINDING),
                                          (KEY, "the secret was rotated")])
def test_another_key_or_a_changed_binding_refuses_the_token(key: bytes, binding: str) -> None:
    token = session.issue(KEY, "node", session.NODE_SUBJECT, BINDING, NOW)
    assert session.verify(key, token, binding, NOW) is None


def test_an_expired_or_not_yet_valid_token_is_refused() -> None:
    token = session.issue(KEY, "node", "node", BINDING, NOW, lifetime=100)
    assert session.verify(KEY, token, BINDING, NOW + 99) is not None
    assert session.verify(KEY, token, BINDING, NOW + 100) is None
    assert session.verify(KEY, token, BINDING, NOW - 1) is None


def test_a_changed_claim_breaks_the_mac() -> None:
    token = session.issue(KEY, "credential", "abc", BINDING, NOW)
    parts = token.split(".")
    for index, value in ((1, "node"), (2, "eHl6"), (4, str(NOW + 10**6))):
        forged = ".".join(parts[:index] + [value] + parts[index + 1:])
        assert session.peek(forged) is not None
        assert session.verify(KEY, forged, BINDING, NOW) is None


@pytest.mark.parametrize("garbage", ["", "v1", "v2.node.bm9kZQ.1.2.n.mac", "v1.admin.bm9kZQ.1.2.n.m",
                                     "v1.node.bm9kZQ.x.2.n.mac", "v1.node.!!.1.2.n.mac",
                                     "v1.node.bm9kZQ==.1.2.n.mac", "v1.node.bm9kZQ.1.2.mac",
                                     "v1.node.bm9kZQ.1.2.n.mac.extra",
                                     "v1.node.bm9kZQ.1.2.n." + "m" * 2000, "v1.nodé.a.1.2.n.m"])
def test_anything_else_is_not_a_token(garbage: str) -> None:
    assert session.peek(garbage) is None
    assert session.verify(KEY, garbage, BINDING, NOW) is None


def test_an_unknown_kind_cannot_be_issued() -> None:
    with pytest.raises(ValueError, match="kind"):
        session.issue(KEY, "admin", "x", BINDING, NOW)


def test_two_sign_ins_in_the_same_second_get_different_tokens() -> None:
    one, two = (session.issue(KEY, "node", "node", BINDING, NOW) for _ in range(2))
    assert one != two
    assert session.verify(KEY, one, BINDING, NOW) == session.verify(KEY, two, BINDING, NOW)


def test_the_csrf_token_belongs_to_its_session_only() -> None:
    one = session.issue(KEY, "node", "node", BINDING, NOW)
    two = session.issue(KEY, "node", "node", BINDING, NOW)
    assert session.csrf_token(one) != session.csrf_token(two)
    assert session.csrf_token(one) not in one
    assert session.csrf_matches(one, session.csrf_token(one))
    assert not session.csrf_matches(one, session.csrf_token(two))
    assert not session.csrf_matches(one, None)
    assert not session.csrf_matches(one, "")
    assert not session.csrf_matches(one, "ünïcode")


def test_node_binding_changes_with_either_secret() -> None:
    base = session.node_binding("admin", "pw")
    assert base == session.node_binding("admin", "pw")
    assert base != session.node_binding("admin", "pw2")
    assert base != session.node_binding("admin2", "pw")
    assert session.node_binding("a\x00b", "c") != session.node_binding("a", "b\x00c")
