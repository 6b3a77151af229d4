"""schemathesis against the manifest API (issue 5 acceptance): requests generated from the OpenAPI
document for every /api/v1/manifests operation, sent in-process to the WSGI application as an
authenticated consignor (an API token with read and write scopes, over the scenario world of
``weifei.manifests.testing``); checks: no 5xx (``not_a_server_error``) and every response conforms
to its documented schema (``response_schema_conformance``). The number of generated requests is
printed at the end of the run.

schemathesis is not a dependency yet: without it this module is skipped with the reason below.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

schemathesis = pytest.importorskip(
    "schemathesis",
    reason="schemathesis is not installed: add `schemathesis>=4.3,<5` to the dev dependency group "
    "(pyproject.toml) and `uv lock` to run the generated-request test of the manifest API",
)

from django.core.signals import request_finished, request_started  # noqa: E402
from django.db import close_old_connections  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.generation.modes import GenerationMode  # noqa: E402
from schemathesis.specs.openapi.checks import response_schema_conformance  # noqa: E402

from weifei.accounts.services import api_token_create  # noqa: E402
from weifei.manifests.testing import world  # noqa: E402

pytestmark = [pytest.mark.usefixtures("reference"), pytest.mark.django_db]

EXAMPLES = 30  # per operation and generation mode
CHECKS = [not_a_server_error, response_schema_conformance]


def test_manifest_api_generated_requests(capsys: pytest.CaptureFixture[str]) -> None:
    # Not ``@schema.parametrize()`` over ``schemathesis.pytest.from_fixture``: schemathesis 4.32's
    # lazy loader touches ``request.node._nodeid``, which pytest 9 no longer has. One test, each
    # operation driven by its own Hypothesis strategy, gives the same coverage and one count.
    from weifei.wsgi import application

    w = world()
    m = w.manifest(containers=2)  # something to read, sign and export
    from weifei.manifests.revisions import revision_request

    change = [{"target": "manifest", "field": "emergency_measures", "proposed": "更正后的措施"}]
    revision = revision_request(actor=w.actor("consignor"), manifest_id=m.id, changes=change, reason="填错")
    known = {"manifest_id": m.id, "number": m.number, "kind": "outgoing", "event": "submit", "revision_id": revision.id}
    _, token = api_token_create(actor=w.actor("consignor"), name="schemathesis", scopes=["read", "write"])
    headers = {"Authorization": f"Bearer {token}"}
    generated: dict[str, int] = {}
    # As Django's test client does: the WSGI handler would close the test's connection (it is inside
    # the test transaction) at the end of each request, the schema's download included.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", application).include(
            path_regex=r"^/api/v1/manifests"
        )
        _fuzz(schema, headers, generated, known)
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)
    per_operation = {k: v for k, v in generated.items() if not k.startswith("HTTP ")}
    total = sum(per_operation.values())
    with capsys.disabled():
        print(f"\nschemathesis: {total} generated requests over {len(per_operation)} manifest API operations")
        for key, count in sorted(generated.items()):
            print(f"  {count:5d}  {key}")
    assert len(per_operation) >= 9 and total >= 2 * 9 * EXAMPLES
    assert generated.get("HTTP 200", 0) > 0  # successful answers were checked against the schema too


def _fuzz(schema: Any, headers: dict[str, str], generated: dict[str, int], known: dict[str, Any]) -> None:
    """Per operation: generated positive and negative requests, and positive ones aimed at the world's
    manifest (its id, number, a register kind, an event), so that successful answers are checked too."""
    for result in schema.get_all_operations():
        operation = result.ok()
        aimed = {name: known[name] for name in re.findall(r"{(\w+)}", operation.path)}
        passes: list[dict[str, Any]] = [
            {"generation_mode": GenerationMode.POSITIVE},
            {"generation_mode": GenerationMode.NEGATIVE},
        ]
        if aimed:
            passes.append({"generation_mode": GenerationMode.POSITIVE, "path_parameters": aimed})
        for kwargs in passes:

            @given(case=operation.as_strategy(**kwargs))
            @settings(
                max_examples=EXAMPLES,
                deadline=None,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            def run(case: Any) -> None:
                key = f"{case.method.upper()} {case.operation.path}"
                generated[key] = generated.get(key, 0) + 1
                response = case.call_and_validate(headers=headers, checks=CHECKS)
                status = f"HTTP {response.status_code}"
                generated[status] = generated.get(status, 0) + 1

            run()
