"""Property-based API tests: schemathesis generates requests from /openapi.json and checks every
answer against the document (status codes, content types, schemas) and that none is a server error."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import positive_data_acceptance

from marsad.web import WebSettings, create_app
from webapp import build_db, install_fake_stories

EXAMPLES = 30  # per operation; 11 operations
KEY = "schema-test-key"


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory):
    db = build_db(tmp_path_factory.mktemp("schema") / "schema.db")
    app = create_app(WebSettings(db=str(db), api_key=KEY))  # so schemathesis also checks the key is enforced
    return schemathesis.openapi.from_asgi("/openapi.json", app)


def test_every_operation_is_documented_and_fuzzed(api_schema, monkeypatch):
    install_fake_stories(monkeypatch)  # the stories interface, as marsad.stories will answer it
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 10
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def check(case):
            # positive_data_acceptance is left out: a schema-valid query or cursor can still be
            # meaningless (an opaque cursor from nowhere, a query of stopwords), and saying so is a 400.
            case.call_and_validate(headers={"X-API-Key": KEY}, excluded_checks=[positive_data_acceptance])

        check()
