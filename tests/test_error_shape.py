"""One error body for every error the API returns, as /openapi.json documents it (issue 19: the
app's own 422s used to be a bare string where the description promised pydantic's list, and 400,
401, 403, 404, 409 and 502 were not documented at all). tests/test_fuzz_api.py checks every
fuzzed response against the description; these check the shape a client relies on."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.enums import Role
from tests.support.web import auth


def _error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["code"] == code and isinstance(body["detail"], str) and body["detail"], body
    assert set(body) <= {"detail", "code", "errors"}
    return body


@pytest.mark.parametrize(
    ("path", "detail"),
    [
        ("/api/v1/summary?client=nosuch", "no mailbox has client 'nosuch'"),
        ("/api/v1/threads?mailbox=nosuch", "no mailbox named 'nosuch'"),
    ],
)
def test_the_apps_own_422_has_the_documented_shape(
    client: TestClient, make_token: Callable[[Role], str], path: str, detail: str
) -> None:
    body = _error(client.get(path, headers=auth(make_token(Role.VIEWER))), 422, "invalid")
    assert body["detail"] == detail


def test_a_request_that_does_not_validate_names_each_field(
    client: TestClient, make_token: Callable[[Role], str]
) -> None:
    response = client.post(
        "/api/v1/templates",
        json={"name": "x", "category": "shipping"},
        headers=auth(make_token(Role.ADMIN)),
    )
    body = _error(response, 422, "invalid")
    assert body["errors"] == [{"loc": ["body", "body"], "msg": "Field required", "type": "missing"}]
    assert body["detail"] == "body.body: Field required"
    body = _error(
        client.get("/api/v1/threads?limit=0&state=nosuch", headers=auth(make_token(Role.VIEWER))),
        422,
        "invalid",
    )
    assert sorted(tuple(e["loc"]) for e in body["errors"]) == [
        ("query", "limit"),
        ("query", "state", 0),
    ]
    assert body["detail"].endswith("(and 1 more)")


def test_who_may_not_is_told_so_in_the_same_shape(
    client: TestClient, make_token: Callable[[Role], str]
) -> None:
    missing = client.get("/api/v1/audit")
    _error(missing, 401, "unauthenticated")
    assert missing.headers["www-authenticate"] == "Bearer"
    _error(client.get("/api/v1/audit", headers=auth(make_token(Role.VIEWER))), 403, "forbidden")
    token = auth(make_token(Role.VIEWER))
    _error(client.get("/api/v1/threads/999999", headers=token), 404, "not_found")
    _error(client.get("/api/v1/no-such-thing", headers=token), 404, "not_found")
    _error(client.delete("/api/v1/threads", headers=token), 405, "method_not_allowed")


def test_every_error_each_operation_can_return_is_documented_with_that_shape(
    client: TestClient,
) -> None:
    spec = client.get("/openapi.json").json()
    schemas = spec["components"]["schemas"]
    assert "HTTPValidationError" not in schemas
    assert set(schemas["ErrorOut"]["required"]) == {"detail", "code"}
    error_ref = {"$ref": "#/components/schemas/ErrorOut"}
    operations = [
        (path, method, operation)
        for path, methods in spec["paths"].items()
        for method, operation in methods.items()
    ]
    assert len(operations) >= 30
    for path, method, operation in operations:
        responses = operation["responses"]
        errors = {int(s) for s in responses if int(s) >= 400}
        if operation.get("security"):
            assert {401, 403} <= errors, (method, path)
        if "{" in path:
            assert 404 in errors, (method, path)
        if operation.get("parameters") or "requestBody" in operation:
            assert {400, 422} <= errors, (method, path)
        for status in errors:
            schema = responses[str(status)]["content"]["application/json"]["schema"]
            assert schema == error_ref, (method, path, status)
    send = spec["paths"]["/api/v1/drafts/{draft_id}/send"]["post"]["responses"]
    assert {"409", "502"} <= set(send)
