"""Schemathesis against the live OpenAPI schema: generated requests, valid and deliberately invalid,
to every operation never get a 5xx, and every answer matches what the schema documents.

Schemathesis's pytest loader (`schemathesis.pytest.from_fixture`) does not run under pytest 9 (it sets
`node._nodeid`), so each operation's Hypothesis strategy is taken from the live schema here.
"""
from __future__ import annotations

import pytest

pytest.importorskip("fastapi", reason="the serve extra is not installed")
schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from schemathesis import GenerationMode  # noqa: E402
from schemathesis.checks import (  # noqa: E402
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from tests.serve.conftest import live_server  # noqa: E402

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
OPERATIONS = [("POST", "/v1/classify"), ("POST", "/v1/classify/batch"), ("GET", "/healthz"), ("GET", "/readyz"),
              ("GET", "/metrics")]
CASES = [(m, p, GenerationMode.POSITIVE) for m, p in OPERATIONS] + \
        [(m, p, GenerationMode.NEGATIVE) for m, p in OPERATIONS if m == "POST"]  # the GETs take no input to break


@pytest.fixture(scope="module")
def live(predictor):
    with live_server(predictor, max_body_mb=1) as live:
        yield live


@pytest.fixture(scope="module")
def api_schema(live):
    return schemathesis.openapi.from_url(live.url + "/openapi.json")


def test_every_operation_is_fuzzed(api_schema):
    served = {(r.ok().method.upper(), r.ok().path) for r in api_schema.get_all_operations()}
    assert served == set(OPERATIONS)


@pytest.mark.parametrize("method,path,mode", CASES, ids=[f"{m} {p} {g.value}" for m, p, g in CASES])
def test_no_input_gets_a_server_error(api_schema, live, method, path, mode):
    operation = api_schema[path][method]
    examples = 40 if method == "POST" else 5

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=examples, deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
    def check(case):
        case.call_and_validate(base_url=live.url, checks=CHECKS, timeout=30)

    check()
    assert live.server.started and not live.server.should_exit  # still up
