"""Every send and reset leaves an audit event, with no secret in it."""

from __future__ import annotations

from dataclasses import replace

import pytest

from ciam_server.domain.audit import RequestContext
from ciam_server.domain.models import AuditAction, Channel
from ciam_shared import ErrorCode

from .conftest import (
    ADDRESS,
    BAD_CODE,
    NEW_PASSWORD,
    WEB_CLIENT_ID,
    Issued,
    World,
    refusal,
    send_request,
    wrong,
)
from .fakes import RecordingAuditLog

CONTEXT = RequestContext(locale="zh", request_id="req-1", client_ip="192.0.2.7")


async def test_a_sent_code_and_a_reset_are_audited(
    world: World, audit_log: RecordingAuditLog, channel: Channel
) -> None:
    response = await world.send_otp(world.web_app, send_request(channel, ADDRESS[channel]), CONTEXT)
    code = world.sender.codes[-1].code
    assert world.sender.codes[-1].locale == "zh"
    await world.reset(channel, Issued(token=response.otp_token, code=code))

    sent, reset = audit_log.events
    assert sent.action is AuditAction.CODE_SENT
    assert (sent.client_id, sent.channel, sent.identifier) == (
        WEB_CLIENT_ID,
        channel,
        ADDRESS[channel],
    )
    assert (sent.request_id, sent.client_ip) == ("req-1", "192.0.2.7")
    assert reset.action is AuditAction.RESET_SUCCEEDED
    assert reset.identifier == ADDRESS[channel]
    for event in audit_log.events:
        assert code not in repr(event)
        assert response.otp_token not in repr(event)
        assert NEW_PASSWORD not in repr(event)


async def test_a_wrong_code_is_audited_with_its_reason_by_the_write_that_counts_it(
    world: World, audit_log: RecordingAuditLog, channel: Channel
) -> None:
    issued = await world.send(channel)

    await refusal(world.reset(channel, issued, code=wrong(issued.code)))

    sent, refused = audit_log.events
    assert sent.action is AuditAction.CODE_SENT
    assert refused.action is AuditAction.RESET_REFUSED
    assert refused.reason == BAD_CODE[channel]
    assert refused.identifier == ADDRESS[channel]
    assert audit_log.own_writes == 0


async def test_a_refused_send_is_audited_even_before_the_address_is_known(
    world: World, audit_log: RecordingAuditLog
) -> None:
    await refusal(world.send_otp(world.web_app, send_request(Channel.EMAIL, "not an address")))

    (refused,) = audit_log.events
    assert refused.action is AuditAction.SEND_REFUSED
    assert refused.reason == ErrorCode.MALFORMED_EMAIL
    assert (refused.channel, refused.identifier) == (Channel.EMAIL, None)


async def test_a_failing_audit_table_does_not_fail_the_flow(
    world: World, audit_log: RecordingAuditLog, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(event: object) -> None:
        raise RuntimeError("database gone")

    monkeypatch.setattr(audit_log, "record_audit_event", broken)

    # A refusal before any write of the flow's own: its event is stored on its own.
    refused = await refusal(
        world.send_otp(world.web_app, send_request(Channel.EMAIL, "not an address"))
    )
    assert refused.code is ErrorCode.MALFORMED_EMAIL  # answered all the same


async def test_a_sent_code_is_audited_by_the_write_that_stores_it(
    world: World, audit_log: RecordingAuditLog, channel: Channel
) -> None:
    await world.send_otp(world.web_app, send_request(channel, ADDRESS[channel]), CONTEXT)

    (sent,) = audit_log.events
    assert sent.action is AuditAction.CODE_SENT
    assert sent.identifier == ADDRESS[channel]
    assert audit_log.own_writes == 0


async def test_a_failed_delivery_follows_its_code_sent_event_with_a_refusal(
    world: World, audit_log: RecordingAuditLog, channel: Channel
) -> None:
    world.sender.fail_codes = True

    await refusal(world.send_otp(world.web_app, send_request(channel, ADDRESS[channel])))

    sent, refused = audit_log.events
    assert sent.action is AuditAction.CODE_SENT
    assert sent.action is AuditAction.CODE_SENT
    assert refused.action is AuditAction.SEND_REFUSED
    assert refused.reason == ErrorCode.TEMPORARILY_UNAVAILABLE


async def test_a_send_refused_by_a_limit_stores_only_its_refusal(
    world: World, audit_log: RecordingAuditLog, channel: Channel
) -> None:
    limited = replace(world.send_otp, settings=replace(world.send_otp.settings, daily_limit=1))
    await limited(world.web_app, send_request(channel, ADDRESS[channel]))

    await refusal(limited(world.web_app, send_request(channel, ADDRESS[channel])))

    assert [event.action for event in audit_log.events] == [
        AuditAction.CODE_SENT,
        AuditAction.SEND_REFUSED,
    ]
    assert audit_log.own_writes == 1


async def test_a_client_address_too_long_to_be_one_is_left_out_of_the_event(
    world: World, audit_log: RecordingAuditLog
) -> None:
    forwarded = RequestContext(client_ip="x" * 65)
    fits = RequestContext(client_ip="f" * 64)

    await world.send_otp(
        world.web_app, send_request(Channel.EMAIL, ADDRESS[Channel.EMAIL]), forwarded
    )
    await world.send_otp(world.web_app, send_request(Channel.SMS, ADDRESS[Channel.SMS]), fits)

    assert [event.client_ip for event in audit_log.events] == [None, "f" * 64]
