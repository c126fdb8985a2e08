"""Idempotency-Key on the API's POST: a retry after a timeout never makes a second screening."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta

import pytest
from api_helpers import BENIGN, CRITICAL, body, count, new_token, post
from conftest import TEST_CONFIG, open_database

from teller_guard import api_idempotency, create_app

# A customer known by ID number, so the repeat-customer signal counts their screenings.
pytestmark = pytest.mark.both_backends


KNOWN_CUSTOMER = body(BENIGN, facts__customer_id_number="11010519491231002X",
                      facts__customer_age=None, three_checks__family_consulted=True)


def sessions(app) -> int:
    return count(app, "SELECT count(*) FROM sessions")


def test_retry_with_the_same_key_returns_the_first_answer(app, client, token):
    first = post(client, token, CRITICAL, **{"Idempotency-Key": "retry-1"})
    again = post(client, token, CRITICAL, **{"Idempotency-Key": "retry-1"})
    assert first.status_code == again.status_code == 201
    assert again.get_json() == first.get_json()
    assert again.headers["Location"] == first.headers["Location"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert sessions(app) == 1
    assert count(app, "SELECT count(*) FROM ledger WHERE kind = 'screening.started'") == 1
    # A critical screening enters the review queue once.
    assert count(app, "SELECT count(*) FROM sessions WHERE in_queue = 1") == 1


def test_key_order_and_layout_of_the_body_do_not_matter(app, client, token):
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json",
               "Idempotency-Key": "layout"}
    first = client.post("/api/v1/screenings", data=json.dumps(BENIGN), headers=headers)
    reordered = dict(reversed(list(BENIGN.items())))
    again = client.post("/api/v1/screenings", data=json.dumps(reordered, indent=4,
                                                                ensure_ascii=False),
                        headers=headers)
    assert again.get_json()["id"] == first.get_json()["id"] and sessions(app) == 1


def test_same_key_with_another_body_is_a_conflict(app, client, token):
    assert post(client, token, BENIGN, **{"Idempotency-Key": "k"}).status_code == 201
    reply = post(client, token, body(BENIGN, facts__amount="3001"), **{"Idempotency-Key": "k"})
    assert reply.status_code == 409
    assert reply.get_json()["error"]["field_codes"] == {"Idempotency-Key": "idempotency_conflict"}
    assert sessions(app) == 1


def test_keys_belong_to_their_token(app, client, token):
    _, other = new_token(app, "另一系统")
    one = post(client, token, BENIGN, **{"Idempotency-Key": "shared"})
    two = post(client, other, BENIGN, **{"Idempotency-Key": "shared"})
    assert one.get_json()["id"] != two.get_json()["id"] and sessions(app) == 2


def test_without_a_key_each_post_is_a_new_screening(app, client, token):
    post(client, token, BENIGN)
    post(client, token, BENIGN)
    assert sessions(app) == 2


@pytest.mark.parametrize("key, code", [("", "required"), ("x" * 201, "too_long"),
                                       ("tab\there", "invalid_value"),
                                       ("caf\u00e9", "invalid_value")])
def test_malformed_keys_are_refused(app, client, token, key, code):
    reply = post(client, token, BENIGN, **{"Idempotency-Key": key})
    assert reply.status_code == 400
    assert reply.get_json()["error"]["field_codes"] == {"Idempotency-Key": code}
    assert sessions(app) == 0


def test_the_longest_and_oddest_keys_work(client, token):
    for key in ("x" * 200, " ~!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ "):
        first = post(client, token, BENIGN, **{"Idempotency-Key": key})
        again = post(client, token, BENIGN, **{"Idempotency-Key": key})
        assert first.status_code == 201 and again.get_json()["id"] == first.get_json()["id"]


def test_a_refused_request_leaves_its_key_unused(app, client, token):
    bad = post(client, token, body(BENIGN, facts__amount="-1"), **{"Idempotency-Key": "fix"})
    assert bad.status_code == 400
    good = post(client, token, BENIGN, **{"Idempotency-Key": "fix"})
    assert good.status_code == 201 and sessions(app) == 1


def test_the_key_holds_across_server_processes(app, client, token, tmp_path):
    """Another app on the same database (another process; PostgreSQL deployments will run many) replays it."""
    first = post(client, token, CRITICAL, **{"Idempotency-Key": "across"})
    other = create_app(TEST_CONFIG, instance_path=app.instance_path).test_client()
    again = post(other, token, CRITICAL, **{"Idempotency-Key": "across"})
    assert again.status_code == 201 and again.get_json()["id"] == first.get_json()["id"]
    assert sessions(app) == 1


def _age_keys(app, hours: float) -> None:
    database = open_database(app)
    try:
        old = (datetime.now(UTC) - timedelta(hours=hours)).isoformat(timespec="seconds")
        database.execute("UPDATE api_idempotency SET created_at = ?", [old])
    finally:
        database.conn.close()


def test_a_key_is_kept_for_more_than_a_day(app, client, token):
    first = post(client, token, BENIGN, **{"Idempotency-Key": "day"})
    _age_keys(app, 47)
    again = post(client, token, BENIGN, **{"Idempotency-Key": "day"})
    assert again.get_json()["id"] == first.get_json()["id"] and sessions(app) == 1


def test_an_expired_key_can_be_used_again(app, client, token):
    first = post(client, token, BENIGN, **{"Idempotency-Key": "old"})
    _age_keys(app, app.config["IDEMPOTENCY_KEY_HOURS"] + 1)
    again = post(client, token, body(BENIGN, facts__amount="3001"), **{"Idempotency-Key": "old"})
    assert again.status_code == 201 and again.get_json()["id"] != first.get_json()["id"]
    assert count(app, "SELECT count(*) FROM api_idempotency") == 1  # the old row was deleted


def test_a_retry_does_not_count_twice_for_the_repeat_customer_signal(app, client, token):
    for _ in range(3):  # the first request and two retries
        assert post(client, token, KNOWN_CUSTOMER,
                    **{"Idempotency-Key": "customer"}).status_code == 201
    later = post(client, token, body(KNOWN_CUSTOMER, facts__amount="3500"))
    assert later.status_code == 201
    database = open_database(app)
    try:
        form = json.loads(database.execute("SELECT form FROM sessions WHERE id = ?",
                                           [later.get_json()["id"]]).fetchone()[0])
    finally:
        database.conn.close()
    assert form["cross_session"]["customer_prior_screenings"] == 1


def test_racing_requests_with_one_key_make_one_screening(app, client, token, monkeypatch):
    """Both requests miss the stored answer (as when they arrive together); the second finds
    the first's row in its own transaction, undoes its screening and answers the first's."""
    real_find = api_idempotency.find
    misses = []

    def find_nothing_the_first_two_times(*args, **kwargs):
        if len(misses) < 2:
            misses.append(1)
            return None
        return real_find(*args, **kwargs)

    monkeypatch.setattr(api_idempotency, "find", find_nothing_the_first_two_times)
    first = post(client, token, CRITICAL, **{"Idempotency-Key": "race"})
    second = post(client, token, CRITICAL, **{"Idempotency-Key": "race"})
    assert second.status_code == 201 and second.get_json()["id"] == first.get_json()["id"]
    assert second.headers["Idempotent-Replayed"] == "true"
    assert sessions(app) == 1
    assert count(app, "SELECT count(*) FROM ledger WHERE kind = 'screening.started'") == 1
    conflicting = body(CRITICAL, facts__amount="30万")
    misses.clear()
    misses.append(1)  # the next lookup misses too: the conflict is found in the transaction
    assert post(client, token, conflicting, **{"Idempotency-Key": "race"}).status_code == 409
    assert sessions(app) == 1


def test_concurrent_retries_make_one_screening(app, token):
    replies = []
    start = threading.Barrier(6)

    def send():
        client = app.test_client()
        start.wait()
        replies.append(post(client, token, CRITICAL, **{"Idempotency-Key": "burst"}))

    threads = [threading.Thread(target=send) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [reply.status_code for reply in replies] == [201] * 6
    assert len({reply.get_json()["id"] for reply in replies}) == 1
    assert sessions(app) == 1
