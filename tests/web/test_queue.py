"""The agent's queue over HTTP: customers by name, filters and search as links, the count of what
waits, the suggested template, and wrong filters shown on the page, never a 500."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from app.enums import Role
from app.main import create_app
from tests.support.mailfactory import relay_address
from tests.support.queue_threads import queue_settings, seed_queue
from tests.support.web import auth, sign_in


@dataclass
class Queue:
    client: TestClient
    threads: dict[str, int]

    def buyers(self, query: str = "") -> list[str]:
        """The customers the queue shows for ``query``, in its order."""
        page = self.client.get("/" + query)
        assert page.status_code == 200, page.text
        return re.findall(r'<td class="customer"[^>]*>([^<]*)</td>', page.text)


@pytest.fixture
def queue(database_url: str, session_factory: sessionmaker[Session]) -> Iterator[Queue]:
    threads = seed_queue(session_factory)
    with TestClient(create_app(queue_settings(database_url))) as client:
        sign_in(client, "agnes")
        yield Queue(client, threads)


def test_customers_by_name_most_urgent_first_with_the_count_and_the_status_page(
    queue: Queue,
) -> None:
    assert queue.buyers() == ["Dora", "Frank", "Eve", "Gus"]
    page = queue.client.get("/").text
    # The relay address is only the name's tooltip.
    dora = relay_address("Dora").lower()
    assert f'title="{dora}">Dora</td>' in page and page.count(dora) == 1
    assert 'data-waiting="4"' in page and "1 at risk" in page
    assert 'href="/status"' in page


FILTERED = [
    ("?mailbox=store-b", ["Frank", "Gus"]),
    ("?client=acme", ["Dora", "Eve"]),
    ("?state=at_risk", ["Dora"]),
    ("?kind=customer&client=zeta", ["Frank", "Gus"]),
    ("?kind=escalation", []),
    ("?state=answered", []),
    ("?q=dora", ["Dora"]),  # the customer's name
    ("?q=" + relay_address("Frank")[:12], ["Frank"]),  # their address, whatever its case
    ("?q=300011419", ["Eve"]),  # the order
    ("?q=LAMP", ["Frank"]),  # the subject
    ("?q=50%25_off", ["Eve"]),  # % and _ are looked for, not wildcards
    ("?q=%25", ["Eve"]),
    ("?q=nobody", []),
]


def test_filters_and_search(queue: Queue) -> None:
    # One app for every case: starting one and signing in is most of a case's cost.
    for query, buyers in FILTERED:
        assert queue.buyers(query) == buyers, query


def test_a_filtered_queue_is_a_link_that_the_page_keeps(queue: Queue) -> None:
    page = queue.client.get("/?client=zeta&q=refund").text
    assert '<option value="zeta" selected>' in page and 'value="refund"' in page
    # Each thread opens within the filtered queue, and "next" stays in it.
    gus = queue.threads["Gus"]
    assert f'href="/threads/{gus}?client=zeta&amp;q=refund"' in page
    thread = queue.client.get(f"/threads/{gus}?client=zeta&q=refund").text
    assert 'href="/?client=zeta&amp;q=refund"' in thread and "Last in the queue" in thread
    dora = queue.client.get(f"/threads/{queue.threads['Dora']}?client=acme").text
    assert f'href="/threads/{queue.threads["Eve"]}?client=acme" rel="next"' in dora
    assert "No thread matches these filters." in queue.client.get("/?q=nobody").text


WRONG = [
    ("?state=late", "no state &#39;late&#39;: choose one of overdue, at_risk, waiting"),
    ("?kind=vip", "no kind &#39;vip&#39;: choose one of customer, escalation, complaint"),
    ("?mailbox=nope", "no mailbox named &#39;nope&#39;"),
    ("?client=nope", "no mailbox has client &#39;nope&#39;"),
    ("?mailbox=store-a&client=zeta", "not one of client &#39;zeta&#39;"),
    ("?q=" + "x" * 201, "the search text is 201 characters; at most 200"),
    ("?mailbox=" + "x" * 101, "the mailbox name is 101 characters; at most 100"),
    ("?state=%3Cscript%3E", "no state &#39;&lt;script&gt;&#39;"),
]


def test_a_wrong_filter_is_shown_on_the_page(queue: Queue) -> None:
    for query, reason in WRONG:
        page = queue.client.get("/" + query)
        assert page.status_code == 400 and reason in page.text, query
        assert 'role="alert"' in page.text and 'role="search"' in page.text  # the form, to fix it


def test_a_thread_page_with_a_wrong_filter_still_shows_the_thread(queue: Queue) -> None:
    page = queue.client.get(f"/threads/{queue.threads['Eve']}?state=late")
    assert page.status_code == 200 and "Refund for 50%_off coupon" in page.text


def test_the_suggested_template_is_shown_and_preselected(queue: Queue) -> None:
    page = queue.client.get("/").text
    suggested = r'<td class="suggestion"[^>]*><span title="[^"]*">([^<]*)</span>'
    suggestions = re.findall(suggested, page)
    assert suggestions == [
        "Where is my order",
        "Item arrived damaged",
        "Return or refund request",
        "Return or refund request",
    ]
    thread = queue.client.get(f"/threads/{queue.threads['Frank']}").text
    (selected,) = re.findall(r"<option value=\"\d+\" selected>([^<]*)</option>", thread)
    assert selected == "damaged item · Item arrived damaged"
    assert "mentions “broken”" in thread
    assert 'Customer <span class="customer"' in thread and ">Frank</span>" in thread


def test_a_viewer_sees_the_queue(queue: Queue) -> None:
    sign_in(queue.client, "victor")
    assert queue.buyers("?mailbox=store-a") == ["Dora", "Eve"]


def test_the_api_searches_the_customers_name_too(
    queue: Queue, make_token: Callable[[Role], str]
) -> None:
    found = queue.client.get("/api/v1/threads?q=GUS", headers=auth(make_token(Role.VIEWER)))
    assert [t["id"] for t in found.json()["items"]] == [queue.threads["Gus"]]
