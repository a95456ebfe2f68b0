"""The hosted reset page (``/reset?client_id=``) in headless Chromium against a real server.

Codes are read from the server's dev outbox, as a user would read them from an email or SMS.
Screenshots of each step go to ``test-output/e2e/<test>/`` (their paths are printed).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable

import httpx
import pytest
from playwright.sync_api import Page, Route, expect

from ciam_server.api.openapi import OTP_SEND_ERRORS, RESET_ERRORS
from ciam_shared import ErrorCode, status_of

from ..conftest import DEFAULT_PASSWORD, NEW_PASSWORD, App, Server, User, wrong_code
from .conftest import PHONE_VIEWPORT, Browse, Session, Shots

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'"
)
OTHER_PASSWORD = "Meadow-compass-41"
FALLBACK_EN = "Something went wrong. Please try again later. (Error:"
FALLBACK_ZH = "出现问题，请稍后重试。（错误"  # noqa: RUF001 - Chinese punctuation

# The codes each endpoint may answer the page with: those it documents, and the limits.
SEND_CODES = sorted(
    {
        *OTP_SEND_ERRORS,
        ErrorCode.INVALID_EMAIL,
        ErrorCode.INSUFFICIENT_EMAIL_QUOTA,
        ErrorCode.INSUFFICIENT_SMS_QUOTA,
        ErrorCode.EMAIL_RATE_LIMIT_EXCEEDED,
        ErrorCode.SMS_RATE_LIMIT_EXCEEDED,
        ErrorCode.TOO_MANY_REQUESTS,
    }
)
RESET_CODES = sorted({*RESET_ERRORS, ErrorCode.TOO_MANY_REQUESTS})


class ResetPage:
    """The page's controls, by the ids the page gives them."""

    def __init__(self, session: Session, server: Server, shots: Shots) -> None:
        self.session = session
        self.page: Page = session.page
        self.server = server
        self.shots = shots
        self.message = self.page.locator("#message")
        self.identifier = self.page.locator("#identifier")
        self.send_button = self.page.locator("#send-button")
        self.send_form = self.page.locator("#send-form")
        self.reset_form = self.page.locator("#reset-form")
        self.code = self.page.locator("#code")
        self.password = self.page.locator("#password")
        self.password_again = self.page.locator("#password-again")
        self.reset_button = self.page.locator("#reset-button")
        self.resend_button = self.page.locator("#resend-button")
        self.done = self.page.locator("#done")

    def open(self, app: App, *, shot: str | None = "start") -> None:
        response = self.page.goto(f"{self.server.base_url}/reset?client_id={app.client_id}")
        assert response is not None
        assert response.status == 200
        expect(self.send_form).to_be_visible()
        if shot:
            self.shot(shot)

    def shot(self, name: str) -> None:
        self.shots.take(self.page, name)

    def send_code(self, identifier: str, *, shot: str = "code-asked") -> None:
        self.identifier.fill(identifier)
        self.shot("address-entered")
        self.send_button.click()
        expect(self.reset_form).to_be_visible()
        expect(self.code).to_be_focused()
        self.shot(shot)

    def submit(self, code: str, password: str, again: str | None = None) -> None:
        self.code.fill(code)
        self.password.fill(password)
        self.password_again.fill(password if again is None else again)
        self.shot("code-and-password-entered")
        self.reset_button.click()

    def expect_error(self, text: str | re.Pattern[str], shot: str) -> None:
        expect(self.message).to_contain_text(text)
        expect(self.message).to_have_class(re.compile(r"\berror\b"))
        expect(self.message).to_be_focused()
        self.shot(shot)

    def expect_done(self, heading: str = "Your password has been changed") -> None:
        expect(self.done).to_be_visible()
        expect(self.page.locator("#done-heading")).to_have_text(heading)
        expect(self.page.locator("#done-heading")).to_be_focused()
        expect(self.reset_form).to_be_hidden()
        self.shot("password-changed")


@pytest.fixture
def reset_page(browse: Browse, server: Server, shots: Shots) -> ResetPage:
    return ResetPage(browse(), server, shots)


def national(phone_number: str) -> str:
    """+8613812345678 as a user in China types it: 13812345678."""
    assert phone_number.startswith("+86")
    return phone_number.removeprefix("+86")


# --- The whole reset ------------------------------------------------------------------------


def test_reset_by_email(
    reset_page: ResetPage, server: Server, spa_app: App, new_user: User
) -> None:
    reset_page.open(spa_app)
    reset_page.send_code(new_user.email)
    expect(reset_page.message).to_contain_text(f"We sent a code to {new_user.email}")
    expect(reset_page.resend_button).to_be_disabled()
    expect(reset_page.resend_button).to_have_text(re.compile(r"^Send a new code \(\d+ s\)$"))

    reset_page.submit(server.last_code(new_user.email), NEW_PASSWORD)

    reset_page.expect_done()
    assert server.password_matches(new_user, NEW_PASSWORD)
    assert not server.password_matches(new_user, DEFAULT_PASSWORD)


def test_reset_by_phone(
    reset_page: ResetPage, server: Server, spa_app: App, new_user: User
) -> None:
    reset_page.open(spa_app)
    reset_page.send_code(national(new_user.phone_number))
    expect(reset_page.message).to_contain_text("We sent a code by text message")

    reset_page.submit(server.last_code(new_user.phone_number), NEW_PASSWORD)

    reset_page.expect_done()
    assert server.password_matches(new_user, NEW_PASSWORD)


def test_keyboard_alone_is_enough(
    reset_page: ResetPage, server: Server, spa_app: App, new_user: User
) -> None:
    page = reset_page.page
    reset_page.open(spa_app)
    expect(reset_page.identifier).to_be_focused()

    page.keyboard.type(new_user.email)
    page.keyboard.press("Enter")
    expect(reset_page.code).to_be_focused()
    reset_page.shot("code-asked")

    page.keyboard.type(server.last_code(new_user.email))
    page.keyboard.press("Tab")  # the resend button is disabled, so it is skipped
    expect(reset_page.password).to_be_focused()
    page.keyboard.type(NEW_PASSWORD)
    page.keyboard.press("Tab")
    expect(reset_page.password_again).to_be_focused()
    page.keyboard.type(NEW_PASSWORD)
    reset_page.shot("code-and-password-typed")
    page.keyboard.press("Enter")

    reset_page.expect_done()
    assert server.password_matches(new_user, NEW_PASSWORD)


# --- Refusals -------------------------------------------------------------------------------


def test_wrong_code_is_explained_then_the_right_one_works(
    reset_page: ResetPage, server: Server, spa_app: App, new_user: User
) -> None:
    reset_page.open(spa_app)
    reset_page.send_code(new_user.email)
    code = server.last_code(new_user.email)

    reset_page.submit(wrong_code(code), NEW_PASSWORD)
    reset_page.expect_error("The code is wrong or has expired", "wrong-code")
    expect(reset_page.code).to_have_attribute("aria-invalid", "true")
    expect(reset_page.reset_form).to_be_visible()

    reset_page.submit(code, NEW_PASSWORD)
    reset_page.expect_done()
    assert server.password_matches(new_user, NEW_PASSWORD)


def test_weak_password_is_refused_naming_the_rule(
    reset_page: ResetPage, server: Server, spa_app: App, new_user: User
) -> None:
    reset_page.open(spa_app)
    reset_page.send_code(new_user.email)
    code = server.last_code(new_user.email)

    reset_page.submit(code, "short1")
    reset_page.expect_error(
        "This password cannot be used. The password must have at least 8 characters.",
        "weak-password",
    )
    expect(reset_page.password).to_have_attribute("aria-invalid", "true")

    # A refusal by the policy leaves the code usable: another password needs no new code.
    reset_page.submit(code, NEW_PASSWORD)
    reset_page.expect_done()
    assert server.password_matches(new_user, NEW_PASSWORD)


def test_reused_password_is_refused(
    reset_page: ResetPage, server: Server, spa_app: App, new_user: User
) -> None:
    reset_page.open(spa_app)
    reset_page.send_code(new_user.email)
    code = server.last_code(new_user.email)

    reset_page.submit(code, DEFAULT_PASSWORD)
    reset_page.expect_error("You have used this password recently", "reused-password")

    reset_page.submit(code, NEW_PASSWORD)
    reset_page.expect_done()
    assert server.password_matches(new_user, NEW_PASSWORD)


def test_passwords_must_match_before_anything_is_sent(
    reset_page: ResetPage, server: Server, spa_app: App, new_user: User
) -> None:
    reset_page.open(spa_app)
    reset_page.send_code(new_user.email)
    code = server.last_code(new_user.email)

    reset_page.submit(code, NEW_PASSWORD, again=OTHER_PASSWORD)
    reset_page.expect_error("The two passwords are not the same", "passwords-differ")
    assert not any("/reset_user_password" in url for url in reset_page.session.requests)

    reset_page.submit(code, NEW_PASSWORD)
    reset_page.expect_done()


def test_empty_address_is_asked_for(reset_page: ResetPage, spa_app: App) -> None:
    reset_page.open(spa_app)
    reset_page.send_button.click()
    reset_page.expect_error("Enter your email address or phone number.", "no-address")
    expect(reset_page.identifier).to_have_attribute("aria-invalid", "true")
    assert not any("/otp/send" in url for url in reset_page.session.requests)


def test_malformed_phone_number_is_explained(reset_page: ResetPage, spa_app: App) -> None:
    reset_page.open(spa_app)
    reset_page.identifier.fill("12345")
    reset_page.send_button.click()
    reset_page.expect_error("This phone number is not valid", "malformed-phone-number")
    expect(reset_page.send_form).to_be_visible()


def test_frozen_account_is_explained(
    reset_page: ResetPage, server: Server, spa_app: App, new_user: User
) -> None:
    server.cli("users", "freeze", "--email", new_user.email)
    reset_page.open(spa_app)
    reset_page.send_code(new_user.email)

    reset_page.submit(server.last_code(new_user.email), NEW_PASSWORD)

    reset_page.expect_error("This account is locked", "frozen")
    assert server.password_matches(new_user, DEFAULT_PASSWORD)


def test_application_not_enabled_for_codes_is_explained(
    reset_page: ResetPage, server: Server
) -> None:
    app = server.create_app("spa")  # public, without --allow-otp-send
    reset_page.open(app)
    reset_page.identifier.fill("someone@example.com")
    reset_page.send_button.click()
    reset_page.expect_error("This application does not allow password resets", "not-enabled")


def test_unknown_application_is_explained(reset_page: ResetPage) -> None:
    reset_page.open(App(client_id="no-such-app", client_secret=None))
    reset_page.identifier.fill("someone@example.com")
    reset_page.send_button.click()
    reset_page.expect_error("This page is not set up for a known application", "unknown-app")


def test_expired_token_sends_the_user_back_to_step_one(
    browse: Browse, short_lived_server: Server, shots: Shots
) -> None:
    app = short_lived_server.create_app("spa", allow_otp_send=True)
    user = short_lived_server.create_user()
    reset_page = ResetPage(browse(), short_lived_server, shots)
    reset_page.open(app)
    reset_page.send_code(user.email)
    code = short_lived_server.last_code(user.email)
    time.sleep(3.2)  # this server's tokens live 3 s

    reset_page.submit(code, NEW_PASSWORD)

    reset_page.expect_error("This code has expired or is no longer valid", "token-expired")
    expect(reset_page.send_form).to_be_visible()
    expect(reset_page.reset_form).to_be_hidden()
    expect(reset_page.identifier).to_have_value(user.email)


# --- Waiting before a new code --------------------------------------------------------------


def test_new_code_after_the_countdown(
    browse: Browse, interval_server: Server, interval_app: App, shots: Shots
) -> None:
    user = interval_server.create_user()
    reset_page = ResetPage(browse(), interval_server, shots)
    reset_page.page.clock.install()
    reset_page.open(interval_app)
    reset_page.send_code(user.email)
    first_code = interval_server.last_code(user.email)
    resend = reset_page.resend_button
    expect(resend).to_be_disabled()
    expect(resend).to_have_text(re.compile(r"^Send a new code \(\d+ s\)$"))

    time.sleep(2.2)  # the server's interval, in real time
    reset_page.page.clock.run_for(31_000)  # the page's countdown, in the page's time
    expect(resend).to_be_enabled()
    expect(resend).to_have_text("Send a new code")
    reset_page.shot("countdown-over")

    resend.click()
    expect(reset_page.message).to_contain_text(f"We sent a new code to {user.email}")
    expect(resend).to_be_disabled()
    expect(reset_page.code).to_be_focused()
    reset_page.shot("new-code-sent")
    assert len(interval_server.messages(user.email)) == 2
    second_code = interval_server.last_code(user.email)

    if second_code != first_code:  # 1 in a million they are the same
        reset_page.submit(first_code, NEW_PASSWORD)
        reset_page.expect_error("The code is wrong or has expired", "first-code-replaced")
    reset_page.submit(second_code, NEW_PASSWORD)
    reset_page.expect_done()
    assert interval_server.password_matches(user, NEW_PASSWORD)


def test_rate_limit_counts_down_from_retry_after(
    browse: Browse, interval_server: Server, interval_app: App, shots: Shots
) -> None:
    user = interval_server.create_user()
    reset_page = ResetPage(browse(), interval_server, shots)
    reset_page.open(interval_app)
    reset_page.identifier.fill(user.email)
    # A code asked for elsewhere (another tab, another device) a moment before.
    sent = httpx.post(
        f"{interval_server.base_url}/otp/send",
        json={"client_id": interval_app.client_id, "usage": "reset_password", "email": user.email},
    )
    assert sent.status_code == 200, sent.text

    reset_page.send_button.click()

    reset_page.expect_error("Too many codes were sent to this email address", "rate-limited")
    expect(reset_page.message).to_contain_text(re.compile(r"try again in \d seconds"))
    expect(reset_page.send_button).to_be_disabled()
    expect(reset_page.send_button).to_have_text(re.compile(r"^Send code \(\d s\)$"))
    expect(reset_page.send_button).to_be_enabled(timeout=5_000)
    expect(reset_page.send_button).to_have_text("Send code")
    reset_page.shot("countdown-over")

    reset_page.send_button.click()
    expect(reset_page.reset_form).to_be_visible()
    reset_page.shot("code-asked")


# --- Language, screen size, what the page loads ---------------------------------------------


def test_chinese_browser_gets_chinese(
    browse: Browse, server: Server, spa_app: App, new_user: User, shots: Shots
) -> None:
    reset_page = ResetPage(browse(locale="zh-CN"), server, shots)
    page = reset_page.page
    reset_page.open(spa_app)
    expect(page.locator("html")).to_have_attribute("lang", "zh-Hans")
    expect(page).to_have_title("重置密码")
    expect(page.locator("h1")).to_have_text("重置密码")
    expect(page.locator("label[for=identifier]")).to_have_text("邮箱或手机号码")
    expect(reset_page.send_button).to_have_text("发送验证码")

    reset_page.send_button.click()
    reset_page.expect_error("请输入邮箱地址或手机号码。", "no-address")

    reset_page.send_code(new_user.email)
    expect(reset_page.message).to_contain_text(f"验证码已发送至 {new_user.email}")
    countdown = re.compile(r"^重新发送验证码（\d+ 秒）$")  # noqa: RUF001 - Chinese punctuation
    expect(reset_page.resend_button).to_have_text(countdown)
    code = server.last_code(new_user.email)

    reset_page.submit(code, NEW_PASSWORD, again=OTHER_PASSWORD)
    reset_page.expect_error("两次输入的密码不一致", "passwords-differ")
    reset_page.submit(wrong_code(code), NEW_PASSWORD)
    reset_page.expect_error("验证码错误或已过期", "wrong-code")
    reset_page.submit(code, "short1")
    reset_page.expect_error("此密码不可用。密码至少需要 8 个字符。", "weak-password")
    reset_page.submit(code, DEFAULT_PASSWORD)
    reset_page.expect_error("您最近使用过这个密码", "reused-password")

    reset_page.submit(code, NEW_PASSWORD)
    reset_page.expect_done("密码已修改")
    expect(page.locator("#done p")).to_have_text("现在可以使用新密码登录了。")


def _assert_fits_the_screen(page: Page, width: int) -> None:
    """Nothing wider than the screen; every visible control inside it and easy to tap."""
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    controls = page.locator("input:visible, button:visible")
    assert controls.count() > 0
    for index in range(controls.count()):
        control = controls.nth(index)
        box = control.bounding_box()
        assert box is not None
        assert box["x"] >= 0
        assert box["x"] + box["width"] <= width
        if control.get_attribute("type") != "checkbox":
            assert box["height"] >= 44, control.evaluate("element => element.outerHTML")


def test_phone_sized_screen(
    browse: Browse, server: Server, spa_app: App, new_user: User, shots: Shots
) -> None:
    reset_page = ResetPage(browse(viewport=PHONE_VIEWPORT), server, shots)
    page = reset_page.page
    reset_page.open(spa_app)
    _assert_fits_the_screen(page, PHONE_VIEWPORT["width"])

    reset_page.send_code(national(new_user.phone_number))
    _assert_fits_the_screen(page, PHONE_VIEWPORT["width"])
    code = server.last_code(new_user.phone_number)
    reset_page.submit(wrong_code(code), NEW_PASSWORD)
    reset_page.expect_error("The code is wrong or has expired", "wrong-code")
    _assert_fits_the_screen(page, PHONE_VIEWPORT["width"])

    reset_page.submit(code, NEW_PASSWORD)
    reset_page.expect_done()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE_VIEWPORT["width"]


def test_page_requests_nothing_but_its_own_origin(
    reset_page: ResetPage, server: Server, spa_app: App, new_user: User
) -> None:
    reset_page.open(spa_app)
    reset_page.send_code(new_user.email)
    reset_page.submit(server.last_code(new_user.email), NEW_PASSWORD)
    reset_page.expect_done()

    requests = reset_page.session.requests
    print("requests:", *requests, sep="\n  ")
    assert all(url.startswith(f"{server.base_url}/") for url in requests), requests
    paths = {httpx.URL(url).path for url in requests}
    assert {
        "/reset",
        "/reset/reset.css",
        "/reset/reset.js",
        "/otp/send",
        "/reset_user_password",
    } <= paths
    assert not [line for line in reset_page.session.console if "Content Security Policy" in line]


def test_strict_content_security_policy(
    reset_page: ResetPage, server: Server, spa_app: App
) -> None:
    response = reset_page.page.goto(f"{server.base_url}/reset?client_id={spa_app.client_id}")
    assert response is not None
    assert response.headers["content-security-policy"] == CSP
    expect(reset_page.send_form).to_be_visible()  # the script ran under that policy
    reset_page.shot("start")

    for path, media_type in [
        ("/reset?client_id=x", "text/html"),
        ("/reset/reset.js", "text/javascript"),
        ("/reset/reset.css", "text/css"),
    ]:
        answer = httpx.get(f"{server.base_url}{path}")
        assert answer.status_code == 200, path
        assert answer.headers["content-type"] == f"{media_type}; charset=utf-8"
        assert answer.headers["content-security-policy"] == CSP
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["referrer-policy"] == "no-referrer"
        assert answer.headers["cache-control"] in {"no-store", "no-cache"}

    html = httpx.get(f"{server.base_url}/reset?client_id=x").text
    assert not re.search(r"<script(?![^>]*\ssrc=)", html), "inline script"
    assert "<style" not in html
    assert not re.search(r"\sstyle=", html), "inline style"
    assert not re.search(r"\son[a-z]+=", html), "inline event handler"
    assert not re.search(r"\b(?:src|href)=\"(?:https?:)?//", html), "a resource of another origin"
    script = httpx.get(f"{server.base_url}/reset/reset.js").text
    for unsafe in ("innerHTML", "outerHTML", "insertAdjacentHTML", "eval(", "new Function"):
        assert unsafe not in script


def test_unchanged_assets_are_revalidated_cheaply(server: Server) -> None:
    first = httpx.get(f"{server.base_url}/reset/reset.js")
    etag = first.headers["etag"]
    again = httpx.get(f"{server.base_url}/reset/reset.js", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["content-security-policy"] == CSP


def test_link_without_client_id_is_explained(reset_page: ResetPage, server: Server) -> None:
    response = reset_page.page.goto(f"{server.base_url}/reset")
    assert response is not None
    assert response.status == 400
    assert response.headers["content-security-policy"] == CSP
    expect(reset_page.page.locator("#broken")).to_be_visible()
    expect(reset_page.page.locator("#broken-heading")).to_have_text("This link is incomplete")
    expect(reset_page.page.locator("#broken-heading")).to_be_focused()
    expect(reset_page.send_form).to_be_hidden()
    reset_page.shot("no-client-id")


# --- Every documented error has words -------------------------------------------------------


def _fulfil_error(
    code: ErrorCode, description: str | None, retry_after: int | None
) -> Callable[[Route], None]:
    def handle(route: Route) -> None:
        body: dict[str, str] = {"error": code.value}
        if description is not None:
            body["error_description"] = description
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
        route.fulfill(
            status=status_of(code),
            json=body,
            headers=headers,
            content_type="application/json;charset=UTF-8",
        )

    return handle


def _fulfil_sent(route: Route) -> None:
    route.fulfill(status=200, json={"otp_token": "stub-token", "expires_in": 600})


@pytest.mark.parametrize("locale", ["en-US", "zh-CN"])
def test_every_error_the_page_can_meet_has_a_message(
    browse: Browse, server: Server, spa_app: App, shots: Shots, locale: str
) -> None:
    """Each code the two endpoints can answer, stubbed in the browser, reads as a message of
    its own, not as the generic one."""
    reset_page = ResetPage(browse(locale=locale), server, shots)
    page = reset_page.page
    fallback = FALLBACK_ZH if locale == "zh-CN" else FALLBACK_EN
    description = "The password must have at least 8 characters."
    messages: dict[str, str] = {}

    for code in SEND_CODES:
        page.unroute("**/otp/send")
        page.route("**/otp/send", _fulfil_error(code, description, retry_after=7))
        reset_page.open(spa_app, shot=None)
        reset_page.identifier.fill(f"{code.value}@example.com")
        reset_page.send_button.click()
        expect(reset_page.message).to_have_class(re.compile(r"\berror\b"))
        messages[f"send {code.value}"] = text = reset_page.message.inner_text()
        shots.take(page, f"send-{code.value}", selector="#message")
        assert text
        assert fallback not in text, code

    for code in RESET_CODES:
        page.unroute("**/otp/send")
        page.route("**/otp/send", _fulfil_sent)
        page.unroute("**/reset_user_password")
        page.route("**/reset_user_password", _fulfil_error(code, description, retry_after=7))
        reset_page.open(spa_app, shot=None)
        reset_page.identifier.fill(f"{code.value}@example.com")
        reset_page.send_button.click()
        expect(reset_page.reset_form).to_be_visible()
        reset_page.code.fill("123456")
        reset_page.password.fill(NEW_PASSWORD)
        reset_page.password_again.fill(NEW_PASSWORD)
        reset_page.reset_button.click()
        expect(reset_page.message).to_have_class(re.compile(r"\berror\b"))
        messages[f"reset {code.value}"] = text = reset_page.message.inner_text()
        shots.take(page, f"reset-{code.value}", selector="#message")
        assert text
        assert fallback not in text, code

    for key, text in messages.items():
        print(f"{key}: {text}")
    if locale == "zh-CN":
        assert all(re.search(r"[\u4e00-\u9fff]", text) for text in messages.values())
        assert "密码至少需要 8 个字符" in messages["reset invalid_new_password"]
        assert "7 秒后可以重试" in messages["send email_rate_limit_exceeded"]
        assert "输入错误验证码的次数过多" in messages["reset email_rate_limit_exceeded"]
    else:
        assert description in messages["reset invalid_new_password"]
        assert "try again in 7 seconds" in messages["send email_rate_limit_exceeded"]
        # At reset the limit is on wrong codes for the address, not on codes sent.
        assert "Too many wrong codes" in messages["reset email_rate_limit_exceeded"]
    assert "7" in messages["send sms_rate_limit_exceeded"]


def test_unknown_error_falls_back_to_a_generic_message(reset_page: ResetPage, spa_app: App) -> None:
    page = reset_page.page
    page.route(
        "**/otp/send",
        lambda route: route.fulfill(status=418, json={"error": "no_such_code"}),
    )
    reset_page.open(spa_app)
    reset_page.identifier.fill("someone@example.com")
    reset_page.send_button.click()
    reset_page.expect_error(f"{FALLBACK_EN} no_such_code)", "unknown-error")


def test_long_wait_reads_in_minutes(reset_page: ResetPage, spa_app: App) -> None:
    reset_page.page.route(
        "**/otp/send", _fulfil_error(ErrorCode.EMAIL_RATE_LIMIT_EXCEEDED, None, retry_after=600)
    )
    reset_page.open(spa_app)
    reset_page.identifier.fill("someone@example.com")
    reset_page.send_button.click()
    reset_page.expect_error("You can try again in 10 minutes.", "long-wait")
    expect(reset_page.send_button).to_have_text("Send code (10 min)")
    expect(reset_page.send_button).to_be_disabled()
