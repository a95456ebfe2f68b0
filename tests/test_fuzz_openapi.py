"""Schemathesis against the live server and the OpenAPI document it serves, with every check.

The fuzz run is schemathesis' own engine, as ``schemathesis run`` drives it: the coverage phase
(boundary values, missing and wrongly typed fields, unsupported methods and media types), then
the fuzzing phase, in positive and in negative generation mode, as a confidential (web)
application authenticating with HTTP Basic. Any check failure, engine error or operation left
untested fails the test. The run is bounded by examples, not by schemathesis' ``max-time``
(which keeps fuzzing until the time is spent); the pytest timeout bounds it in time.

A random ``otp_token`` is never a live one, so a schema-valid reset is refused with
``bad_*_otp_token``; an address the document lets through can still be one the server refuses as
malformed; a fuzzed ``Idempotency-Key`` can come back with another body. So
``positive_data_acceptance`` is told to accept 400 and 422 too, and the extra check below keeps
that allowance narrow: a schema-valid request may be refused only with the codes naming those
causes, never with ``invalid_request``, which would mean the document is looser than the server.

What fuzzing cannot reach, a real reset, is run once with known-good data and its responses and
their idempotent replays validated against the document with the same checks.
"""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import pytest
import schemathesis
from schemathesis import BaseSchema, Case, CheckContext, Response
from schemathesis.checks import CHECKS
from schemathesis.config import PositiveDataAcceptanceConfig
from schemathesis.engine import Status, events, from_schema
from schemathesis.specs.openapi.checks import is_unexpected_http_status_case

from ciam_shared import ErrorCode, status_of

from .conftest import NEW_PASSWORD, App, Server, User

OPERATIONS = (
    "POST /otp/send",
    "POST /reset_user_password",
    "POST /oauth2/token",
    "POST /oauth2/revoke",
    "POST /change_user_password",
    "GET /userinfo",
)
"""The operations with inputs to fuzz."""
PUBLISHED = ("GET /.well-known/openid-configuration", "GET /.well-known/jwks.json")
"""The operations without input: each is called, no more often than it has cases."""
MAX_EXAMPLES = 100  # per operation and generation mode, in the fuzzing phase
MAX_RESPONSE_TIME = 10.0  # seconds; no fuzzed request gets as far as argon2
BEARER_OPERATIONS = ("POST /change_user_password", "GET /userinfo")
"""Where the contract answers a missing bearer token with 400 invalid_request (RFC 6750 §3.1's
error code), which schemathesis' missing_required_header check cannot be told: it expects 401
for a missing Authorization header whatever it is configured with, so it is off for these two.
packages/server/tests/api/test_sign_in.py checks that answer instead."""

# The codes a schema-valid request can be refused with, by operation: causes no schema can state.
_ADDRESS = (ErrorCode.MALFORMED_EMAIL, ErrorCode.MALFORMED_PHONE_NUMBER)
_NOT_A_LIVE_TOKEN = (ErrorCode.BAD_EMAIL_OTP_TOKEN, ErrorCode.BAD_PHONE_NUMBER_OTP_TOKEN)
_KEY_REUSED = (ErrorCode.IDEMPOTENCY_KEY_REUSED,)
# The run authenticates with HTTP Basic, as a confidential application: the calls that take a
# user's bearer token answer its absence (invalid_request, RFC 6750 §3.1). A random username and
# password, or refresh token, is no valid grant; a random token with a JWT's dots is taken for
# an access token, which cannot be revoked.
_NO_BEARER_TOKEN = (ErrorCode.INVALID_REQUEST,)
VALID_REQUEST_REFUSALS: dict[str, frozenset[ErrorCode]] = {
    "POST /otp/send": frozenset((*_ADDRESS, *_KEY_REUSED)),
    "POST /reset_user_password": frozenset((*_ADDRESS, *_NOT_A_LIVE_TOKEN, *_KEY_REUSED)),
    "POST /oauth2/token": frozenset((ErrorCode.INVALID_GRANT,)),
    "POST /oauth2/revoke": frozenset((ErrorCode.UNSUPPORTED_TOKEN_TYPE,)),
    "POST /change_user_password": frozenset(_NO_BEARER_TOKEN),
    "GET /userinfo": frozenset(_NO_BEARER_TOKEN),
}


def _statuses(codes: frozenset[ErrorCode]) -> set[int]:
    return {status_of(code) for code in codes}


@schemathesis.check
def valid_requests_are_refused_only_for_what_no_schema_can_say(
    ctx: CheckContext, response: Response, case: Case[Any]
) -> bool | None:
    """A schema-valid request refused with a status ``positive_data_acceptance`` was told to
    accept must carry one of the codes that status was accepted for."""
    allowed = VALID_REQUEST_REFUSALS.get(case.operation.label, frozenset())
    if (
        case.meta is None
        or not case.meta.generation.mode.is_positive
        or is_unexpected_http_status_case(case)
        or response.status_code not in _statuses(allowed)
    ):
        return None
    code = response.json().get("error")
    if code not in allowed:
        raise AssertionError(
            f"A schema-valid request was refused with {response.status_code} {code!r}; only "
            f"{', '.join(sorted(allowed))} may refuse one, so the document is looser than the "
            "server here."
        )
    return None


def _operation(label: str, allowed: frozenset[ErrorCode]) -> dict[str, Any]:
    """The checks' settings for one operation: the refusals a schema-valid request may get."""
    accepted = PositiveDataAcceptanceConfig().expected_statuses
    checks: dict[str, Any] = {
        "positive_data_acceptance": {
            "expected-statuses": [*accepted, *map(str, sorted(_statuses(allowed)))]
        }
    }
    if label in BEARER_OPERATIONS:
        checks["missing_required_header"] = {"enabled": False}
    return {"include-name": label, "checks": checks}


def _config(mode: str, app: App, base_url: str) -> schemathesis.Config:
    assert app.client_secret is not None
    return schemathesis.Config.from_dict(
        {
            # Hypothesis' own health checks judge the generator, not the server: the reset body's
            # one-channel rule makes negative generation discard many drafts on some seeds, and a
            # loaded machine is slow. The responses-per-operation floor below still holds.
            "suppress-health-check": ["filter_too_much", "too_slow"],
            "base-url": base_url,
            "auth": {"basic": {"username": app.client_id, "password": app.client_secret}},
            "request-timeout": MAX_RESPONSE_TIME,
            "checks": {"enabled": True, "max_response_time": MAX_RESPONSE_TIME},
            "generation": {"mode": mode, "max-examples": MAX_EXAMPLES, "database": "none"},
            "operations": [
                _operation(label, allowed) for label, allowed in VALID_REQUEST_REFUSALS.items()
            ],
        }
    )


def _load(server: Server, app: App, mode: str) -> BaseSchema:
    return schemathesis.openapi.from_url(
        f"{server.base_url}/schema/openapi.json", config=_config(mode, app, server.base_url)
    )


@dataclass
class Outcome:
    """What one engine run did and found."""

    problems: list[str] = field(default_factory=list)
    responses: Counter[str] = field(default_factory=Counter)
    checks_run: set[str] = field(default_factory=set)


def _scenario(outcome: Outcome, event: events.ScenarioFinished) -> None:
    recorder = event.recorder
    for interaction in recorder.interactions.values():
        if interaction.response is not None:
            outcome.responses[recorder.label] += 1
    for nodes in recorder.checks.values():
        for node in nodes:
            outcome.checks_run.add(node.name)
            if node.status is Status.FAILURE and node.failure_info is not None:
                failure = node.failure_info.failure
                outcome.problems.append(
                    f"{recorder.label} [{node.name}] {failure.title}\n{failure.message}\n"
                    f"{node.failure_info.code_sample}"
                )
            elif node.status is Status.ERROR:
                outcome.problems.append(f"{recorder.label} [{node.name}] the check crashed")


def _run(schema: BaseSchema) -> Outcome:
    outcome = Outcome()
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            _scenario(outcome, event)
        elif isinstance(event, events.NonFatalError):
            outcome.problems.append(f"{event.label}: {event.info.title}\n{event.info.message}")
        elif isinstance(event, events.FatalError):
            outcome.problems.append(f"fatal: {event.exception!r}")
        elif isinstance(event, events.EngineFinished):
            outcome.problems.extend(f"{f.title}\n{f.message}" for f in event.failures)
    return outcome


@pytest.mark.timeout(90)
@pytest.mark.parametrize("mode", ["positive", "negative"])
def test_the_server_keeps_to_its_openapi_document(server: Server, web_app: App, mode: str) -> None:
    schema = _load(server, web_app, mode)

    outcome = _run(schema)

    assert not outcome.problems, f"seed {schema.config.seed}:\n\n" + "\n\n".join(outcome.problems)
    for label in OPERATIONS:
        assert outcome.responses[label] >= MAX_EXAMPLES, (label, outcome.responses)
    for label in PUBLISHED:
        assert outcome.responses[label] >= 1, (label, outcome.responses)
    assert outcome.checks_run == {*CHECKS.get_all_names(), "max_response_time"}


def test_a_real_reset_and_its_replays_keep_to_the_document(
    server: Server, web_app: App, new_user: User
) -> None:
    assert web_app.client_secret is not None
    auth = (web_app.client_id, web_app.client_secret)
    schema = _load(server, web_app, "positive")
    send = schema["/otp/send"]["POST"].Case(
        body={"usage": "reset_password", "email": new_user.email},
        headers={"Idempotency-Key": uuid.uuid4().hex},
    )

    sent = send.call_and_validate(auth=auth)
    sent_again = send.call_and_validate(auth=auth)

    assert (sent.status_code, sent_again.status_code) == (200, 200)
    assert sent_again.headers["idempotent-replayed"] == ["true"]
    reset = schema["/reset_user_password"]["POST"].Case(
        body={
            "email": new_user.email,
            "email_otp_token": sent.json()["otp_token"],
            "email_otp": server.last_code(new_user.email),
            "password": NEW_PASSWORD,
        },
        headers={"Idempotency-Key": uuid.uuid4().hex},
    )

    done = reset.call_and_validate(auth=auth)
    done_again = reset.call_and_validate(auth=auth)

    assert (done.status_code, done_again.status_code) == (200, 200)
    assert done_again.headers["idempotent-replayed"] == ["true"]
    assert server.password_matches(new_user, NEW_PASSWORD)
