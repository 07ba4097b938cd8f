"""A bounded schemathesis run over every operation of the OpenAPI document: generated requests,
valid and invalid, read and authenticated write, must never get a 5xx, must get a status the
document declares, and every response must match the schema declared for it.

On a small temp corpus with the hashing embedder; a few examples per operation and mode keep
the whole run well under a minute. (schemathesis' pytest plugin cannot take the app from a
fixture under this pytest, so the strategies are driven with Hypothesis directly.)"""

from __future__ import annotations

import time

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error, response_schema_conformance, status_code_conformance

from kunskap.accounts import Accounts
from kunskap.config import Settings
from kunskap.ingest import ingest
from kunskap.knowledgebase import KnowledgeBase
from kunskap.web.app import create_app

from .conftest import SAMPLE, write_case

EXAMPLES = {GenerationMode.POSITIVE: 25, GenerationMode.NEGATIVE: 10}
CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance]
BUDGET_SECONDS = 60


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    root = tmp_path_factory.mktemp("schemathesis")
    for name, (title, org, body, meta) in SAMPLE.items():
        write_case(root / "corpus", name, title, org, body, **meta)
    # No rate limit here: one client sends a few hundred requests on purpose.
    kb = KnowledgeBase(Settings(corpus=root / "corpus", index=root / "index", model="hashing", rate_limit=0))
    ingest(kb, root / "corpus")
    accounts = Accounts(kb.store)
    accounts.add_user("robot", "ett-langt-losenord")
    token = accounts.create_token("robot", "schemathesis")
    app = create_app(kb.settings, knowledge_base=kb)
    yield schemathesis.openapi.from_asgi("/api/v1/openapi.json", app), {"Authorization": f"Bearer {token}"}
    kb.store.close()


def run_operation(operation, mode: GenerationMode, headers: dict) -> None:
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=EXAMPLES[mode], deadline=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large])
    def check(case):
        case.call_and_validate(headers=dict(headers), checks=CHECKS)

    check()


def test_every_operation_answers_within_its_schema(api):
    schema, auth = api
    operations = [result.ok() for result in schema.get_all_operations()]
    labels = {op.label for op in operations}
    assert len(operations) >= 20 and "PATCH /api/v1/documents/{doc_id}" in labels and "GET /api/v1/search" in labels
    assert "GET /api/v1/insights" in labels
    started = time.monotonic()
    failures = []
    for operation in operations:
        for mode in EXAMPLES:
            try:
                run_operation(operation, mode, auth)
            except Unsatisfiable:   # nothing can be invalid (no parameters, or any string is valid)
                assert mode is GenerationMode.NEGATIVE, operation.label
            except Exception as exc:  # noqa: BLE001 - every operation is run; all failures are reported
                failures.append(f"{operation.label} ({mode.value}): {exc}")
    assert failures == [], "\n\n".join(failures)
    assert time.monotonic() - started < BUDGET_SECONDS


def valid_writes(client_get) -> list[tuple[str, str, dict]]:
    """Write operations with a valid body and real ids, so the run also reaches their success
    answers (random titles and organisations are refused before anything is saved)."""
    document = client_get("/api/v1/documents/lund-cykel")
    new = {"title": "Cykelbibliotek i Lund", "organisation": "Lunds kommun", "themes": ["cykel"], "year": 2024,
           "body": "## Bakgrund\nLånecyklar för alla.", "status": "draft"}
    return [
        ("/api/v1/documents", "POST", {"body": new}),
        ("/api/v1/documents/{doc_id}", "PUT", {"path_parameters": {"doc_id": "lund-cykel"},
                                               "body": {**document, "title": "Cykelvägar i Lund"}}),
        ("/api/v1/documents/{doc_id}", "PATCH", {"path_parameters": {"doc_id": "malmo-energi"},
                                                 "body": {"summary": "Energiråd på flera språk."}}),
        ("/api/v1/documents/{doc_id}/unpublish", "POST", {"path_parameters": {"doc_id": "umea-laddning"}}),
        ("/api/v1/documents/{doc_id}/publish", "POST", {"path_parameters": {"doc_id": "umea-laddning"}}),
        ("/api/v1/documents/{doc_id}/version", "GET", {"path_parameters": {"doc_id": "lund-cykel"}}),
        ("/api/v1/documents/{doc_id}/revisions", "GET", {"path_parameters": {"doc_id": "lund-cykel"}}),
        ("/api/v1/revisions/{revision_id}", "GET", {"path_parameters": {"revision_id": 1}}),
        # Undo the latest change to lund-cykel (found when this step runs).
        ("/api/v1/revisions/{revision_id}/restore", "POST", lambda: {
            "path_parameters": {"revision_id": client_get("/api/v1/documents/lund-cykel/revisions")[0]["id"]},
            "query": {"version": "before"}}),
        ("/api/v1/documents/{doc_id}", "DELETE", {"path_parameters": {"doc_id": "skane-mat"}}),
    ]


def test_valid_writes_answer_within_their_schema(api):
    schema, auth = api
    from schemathesis.python import asgi

    with asgi.get_client(schema.app) as client:
        def client_get(url):
            return client.get(url, headers=auth).json()

        writes = valid_writes(client_get)
        statuses: dict[str, set[int]] = {}
        for path, method, fixed in writes:
            operation = schema[path][method]
            fixed = fixed() if callable(fixed) else fixed

            @given(case=operation.as_strategy(**fixed))
            @settings(max_examples=5, deadline=None, suppress_health_check=list(HealthCheck))
            def check(case):
                response = case.call_and_validate(headers=dict(auth), checks=CHECKS)
                statuses.setdefault(f"{method} {path}", set()).add(response.status_code)

            check()
        revisions = client.get("/api/v1/documents/lund-cykel/revisions", headers=auth).json()
    # The success answers were reached (and validated), not only refusals.
    assert 201 in statuses["POST /api/v1/documents"]
    assert 200 in statuses["PUT /api/v1/documents/{doc_id}"] and 200 in statuses["PATCH /api/v1/documents/{doc_id}"]
    assert 200 in statuses["DELETE /api/v1/documents/{doc_id}"]
    assert 200 in statuses["POST /api/v1/revisions/{revision_id}/restore"]
    assert revisions and revisions[0]["action"] in ("update", "restore")
