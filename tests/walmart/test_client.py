"""The Marketplace API client against a real HTTP server playing Walmart: the token (JSON and
XML) kept until shortly before it expires, the headers of every call, 401 with one new token,
429 with back-off, 5xx, timeouts and an API that is not there; and that it only ever reads."""

from __future__ import annotations

import logging
import socket

import pytest

from app.clock import now
from app.errors import WalmartApiError
from app.walmart.client import MAX_RETRY_AFTER, TOKENS, WalmartClient, retry_after
from tests.support.walmart_api import (
    CLIENT_ID,
    CLIENT_SECRET,
    FakeWalmart,
    order_line,
    purchase_order,
    walmart_mailbox,
)

PO, CO = "108829272810783", "200011419023224"


@pytest.fixture
def shop(walmart: FakeWalmart) -> FakeWalmart:
    walmart.add_order(purchase_order(PO, CO, [order_line("1", "Kitchen towels")]))
    return walmart


def test_every_call_sends_a_token_the_service_name_a_new_correlation_id_and_asks_for_json(
    shop: FakeWalmart,
) -> None:
    client = WalmartClient(walmart_mailbox(shop))
    for _ in range(3):
        answer = client.get(f"/v3/orders/{PO}")
        assert answer.status == 200 and answer.body["order"]["purchaseOrderId"] == PO

    token_request, *gets = shop.seen
    assert (token_request.method, token_request.path) == ("POST", "/v3/token")
    assert token_request.headers["Authorization"].startswith("Basic ")
    assert token_request.headers["Accept"] == "application/json"
    assert token_request.headers["WM_SVC.NAME"] == "Walmart Marketplace"
    assert len(gets) == 3  # one token for the three calls
    for seen in gets:
        assert seen.method == "GET"
        assert seen.headers["WM_SEC.ACCESS_TOKEN"].startswith("eyJ")
        assert seen.headers["WM_SVC.NAME"] == "Walmart Marketplace"
        assert seen.headers["Accept"] == "application/json"
        assert "Authorization" not in seen.headers
    ids = [s.headers["WM_QOS.CORRELATION_ID"] for s in shop.seen]
    assert len(set(ids)) == len(ids) == 4
    shop.assert_read_only()


def test_the_xml_token_walmart_sends_when_json_is_not_honoured(shop: FakeWalmart) -> None:
    shop.knobs.xml_tokens = True
    answer = WalmartClient(walmart_mailbox(shop)).get(f"/v3/orders/{PO}")
    assert answer.status == 200
    assert shop.token_requests() == 1


def test_a_token_about_to_expire_is_replaced_before_a_call(shop: FakeWalmart) -> None:
    shop.knobs.token_lifetime = 30  # inside the margin kept before expiry: never reused
    client = WalmartClient(walmart_mailbox(shop))
    client.get(f"/v3/orders/{PO}")
    client.get(f"/v3/orders/{PO}")
    assert shop.token_requests() == 2


def test_a_refused_token_gets_one_new_token_and_one_retry(shop: FakeWalmart) -> None:
    client = WalmartClient(walmart_mailbox(shop))
    client.get(f"/v3/orders/{PO}")
    shop.expire_tokens()
    answer = client.get(f"/v3/orders/{PO}")
    assert answer.status == 200
    assert shop.calls() == [
        ("POST", "/v3/token"),
        ("GET", f"/v3/orders/{PO}"),
        ("GET", f"/v3/orders/{PO}"),  # 401
        ("POST", "/v3/token"),
        ("GET", f"/v3/orders/{PO}"),
    ]


def test_429_waits_as_retry_after_says_then_succeeds(shop: FakeWalmart) -> None:
    shop.knobs.rate_limited, shop.knobs.retry_after = 2, "1"
    waits: list[float] = []
    answer = WalmartClient(walmart_mailbox(shop), sleep=waits.append).get(f"/v3/orders/{PO}")
    assert answer.status == 200
    assert waits == [1.0, 1.0]
    assert [c for c in shop.calls() if c[0] == "GET"] == [("GET", f"/v3/orders/{PO}")] * 3


def test_429_back_off_is_bounded_and_gives_up(shop: FakeWalmart) -> None:
    shop.knobs.rate_limited, shop.knobs.retry_after = 100, "3600"
    waits: list[float] = []
    with pytest.raises(WalmartApiError) as refused:
        WalmartClient(walmart_mailbox(shop), sleep=waits.append).get(f"/v3/orders/{PO}")
    assert refused.value.kind == "rate_limited"
    assert waits == [MAX_RETRY_AFTER] * 3


def test_429_really_waits_before_trying_again(shop: FakeWalmart) -> None:
    shop.knobs.rate_limited, shop.knobs.retry_after = 1, "1"
    assert WalmartClient(walmart_mailbox(shop)).get(f"/v3/orders/{PO}").status == 200


def test_retry_after_as_seconds_date_or_nothing() -> None:
    assert retry_after("2", attempt=0) == 2.0
    assert retry_after("-5", attempt=0) == 0.0
    assert retry_after(None, attempt=0) == 1.0
    assert retry_after(None, attempt=2) == 4.0
    assert retry_after("soon", attempt=1) == 2.0
    assert retry_after("Wed, 21 Oct 2015 07:28:00 GMT", attempt=0) == 0.0  # in the past


def test_server_errors_and_an_absent_api_are_unreachable(shop: FakeWalmart) -> None:
    shop.knobs.failing = 503
    with pytest.raises(WalmartApiError) as failed:
        WalmartClient(walmart_mailbox(shop)).get(f"/v3/orders/{PO}")
    assert failed.value.kind == "unreachable" and "503" in failed.value.reason

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}"
    with pytest.raises(WalmartApiError) as absent:
        WalmartClient(walmart_mailbox(shop, walmart_api_url=closed)).get(f"/v3/orders/{PO}")
    assert absent.value.kind == "unreachable" and "cannot reach 127.0.0.1" in absent.value.reason


def test_a_slow_answer_hits_the_timeout(shop: FakeWalmart) -> None:
    client = WalmartClient(walmart_mailbox(shop, walmart_timeout_seconds=0.5))
    client.get(f"/v3/orders/{PO}")  # the token first, at full speed
    shop.knobs.delay = 3
    with pytest.raises(WalmartApiError) as slow:
        client.get(f"/v3/orders/{PO}")
    assert slow.value.kind == "unreachable" and "did not answer in time" in slow.value.reason


def test_a_wrong_secret_is_an_auth_error_that_never_quotes_a_secret(
    walmart: FakeWalmart, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("SLAWATCH_TEST_WRONG_SECRET", "not-the-" + CLIENT_SECRET)
    mailbox = walmart_mailbox(walmart, walmart_client_secret_env="SLAWATCH_TEST_WRONG_SECRET")
    with pytest.raises(WalmartApiError) as refused:
        WalmartClient(mailbox).get(f"/v3/orders/{PO}")
    assert refused.value.kind == "auth"
    assert "walmart_client_id" in refused.value.reason
    assert CLIENT_SECRET not in str(refused.value) and CLIENT_SECRET not in repr(refused.value)
    assert CLIENT_SECRET not in caplog.text
    assert not TOKENS.valid((walmart.url, CLIENT_ID), at=now())


def test_a_secret_variable_not_set_is_a_config_error(
    walmart: FakeWalmart, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SLAWATCH_TEST_MISSING_SECRET", raising=False)
    mailbox = walmart_mailbox(walmart, walmart_client_secret_env="SLAWATCH_TEST_MISSING_SECRET")
    with pytest.raises(WalmartApiError) as missing:
        WalmartClient(mailbox).get(f"/v3/orders/{PO}")
    assert missing.value.kind == "config"
    assert "SLAWATCH_TEST_MISSING_SECRET" in missing.value.reason
    assert walmart.seen == []
