"""A client that openapi-python-client generates from the document a running server serves works
as generated: with its typed models and functions alone, it sends a code, reads a refusal as a
typed error body and resets a password.

The generator runs as a user runs it, on the document's URL; ``--fail-on-warning`` fails the test
when it leaves out any part of the document. Its formatting step is turned off: it formats the
generated code with ruff, which changes nothing a caller meets.
"""

from __future__ import annotations

import base64
import importlib
import json
import subprocess
import sys
from collections.abc import Iterator
from types import ModuleType
from typing import Any
from urllib.parse import quote_plus

import pytest

from .conftest import NEW_PASSWORD, App, Server, User, wrong_code

PACKAGE = "generated_ciam_reset_client"


@pytest.fixture(scope="module")
def generated(server: Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    """The generated package, imported."""
    root = tmp_path_factory.mktemp("generated")
    config = root / "config.json"
    config.write_text(json.dumps({"post_hooks": []}))
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "openapi_python_client",
            "generate",
            "--url",
            f"{server.base_url}/schema/openapi.json",
            "--meta",
            "none",
            "--output-path",
            str(root / PACKAGE),
            "--config",
            str(config),
            "--fail-on-warning",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    sys.path.insert(0, str(root))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(root))
        for name in [name for name in sys.modules if name.partition(".")[0] == PACKAGE]:
            del sys.modules[name]


def _part(package: ModuleType, name: str) -> ModuleType:
    return importlib.import_module(f"{package.__name__}.{name}")


def _basic_token(app: App) -> str:
    """HTTP Basic credentials as the document's security scheme describes them."""
    assert app.client_secret is not None
    raw = f"{quote_plus(app.client_id)}:{quote_plus(app.client_secret)}"
    return base64.b64encode(raw.encode()).decode()


def test_the_generated_models_keep_every_field(generated: ModuleType) -> None:
    models = _part(generated, "models")

    send = models.OtpSendRequest(usage="reset_password", client_id="an-app", email="a@b.example")
    reset = models.ResetUserPasswordRequest(
        password="p", client_id="an-app", phone_number="+8613800138000"
    )

    assert send.to_dict() == {
        "usage": "reset_password",
        "client_id": "an-app",
        "email": "a@b.example",
    }
    assert reset.to_dict() == {
        "password": "p",
        "client_id": "an-app",
        "phone_number": "+8613800138000",
    }


def test_a_generated_client_resets_a_password_with_typed_fields_alone(
    server: Server, web_app: App, new_user: User, generated: ModuleType
) -> None:
    models = _part(generated, "models")
    send_otp = _part(generated, "api.default.send_otp")
    reset_user_password = _part(generated, "api.default.reset_user_password")

    with generated.AuthenticatedClient(
        base_url=server.base_url, token=_basic_token(web_app), prefix="Basic"
    ) as client:
        sent = send_otp.sync(
            client=client,
            body=models.OtpSendRequest(usage="reset_password", email=new_user.email),
        )
        assert isinstance(sent, models.OtpSendResponse), sent
        assert sent.expires_in > 0
        code = server.last_code(new_user.email)

        def reset(otp: str) -> Any:
            return reset_user_password.sync_detailed(
                client=client,
                body=models.ResetUserPasswordRequest(
                    password=NEW_PASSWORD,
                    email=new_user.email,
                    email_otp_token=sent.otp_token,
                    email_otp=otp,
                ),
            )

        refused = reset(wrong_code(code))
        assert refused.status_code == 400
        assert isinstance(refused.parsed, models.ErrorBody)
        assert refused.parsed.error == "bad_email_otp"
        assert isinstance(refused.parsed.error_description, str)
        assert not server.password_matches(new_user, NEW_PASSWORD)

        done = reset(code)
        assert done.status_code == 200, done.content

    assert server.password_matches(new_user, NEW_PASSWORD)
