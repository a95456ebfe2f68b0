"""Applications are kept for the cache's lifetime after each read, and no longer."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import timedelta

from ciam_server.domain.clients import CachedApplications
from ciam_server.domain.models import Application, AppType

WEB = Application(
    client_id="web", name="Web", app_type=AppType.WEB, secret_hash="ab" * 32, allow_otp_send=False
)


@dataclass
class CountingSource:
    """Applications by client_id, counting the reads."""

    applications: dict[str, Application] = field(default_factory=dict)
    reads: int = 0

    async def get_application(self, client_id: str) -> Application | None:
        self.reads += 1
        return self.applications.get(client_id)


@dataclass
class Seconds:
    now: float = 1000.0

    def __call__(self) -> float:
        return self.now


def cache(source: CountingSource, clock: Seconds, ttl: float = 1) -> CachedApplications:
    return CachedApplications(source, ttl=timedelta(seconds=ttl), clock=clock)


async def test_an_application_is_read_once_within_the_lifetime() -> None:
    source, clock = CountingSource({"web": WEB}), Seconds()
    applications = cache(source, clock)
    assert await applications.get_application("web") == WEB
    clock.now += 0.999
    assert await applications.get_application("web") == WEB
    assert source.reads == 1


async def test_a_change_is_seen_once_the_lifetime_has_passed() -> None:
    source, clock = CountingSource({"web": WEB}), Seconds()
    applications = cache(source, clock)
    await applications.get_application("web")
    source.applications["web"] = replace(WEB, email_daily_quota=0)
    assert await applications.get_application("web") == WEB  # still the kept one
    clock.now += 1
    changed = await applications.get_application("web")
    assert changed is not None
    assert changed.email_daily_quota == 0
    assert source.reads == 2


async def test_an_unknown_client_id_is_not_kept() -> None:
    source, clock = CountingSource(), Seconds()
    applications = cache(source, clock)
    assert await applications.get_application("web") is None
    source.applications["web"] = WEB  # created meanwhile: found at once
    assert await applications.get_application("web") == WEB
    assert source.reads == 2


async def test_an_application_gone_from_the_store_is_dropped() -> None:
    source, clock = CountingSource({"web": WEB}), Seconds()
    applications = cache(source, clock)
    await applications.get_application("web")
    del source.applications["web"]
    clock.now += 1
    assert await applications.get_application("web") is None
    assert await applications.get_application("web") is None
    assert source.reads == 3


async def test_a_zero_lifetime_reads_the_store_every_time() -> None:
    source, clock = CountingSource({"web": WEB}), Seconds()
    applications = cache(source, clock, ttl=0)
    for _ in range(3):
        assert await applications.get_application("web") == WEB
    assert source.reads == 3
