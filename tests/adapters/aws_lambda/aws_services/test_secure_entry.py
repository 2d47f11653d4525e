"""The reference app's Lambda entry reads its secrets from Secrets Manager (a real moto server).

``infra/aws/template.yaml`` passes only ARNs; these tests create the three secrets in
moto, build the app through ``examples/lambda/secure_entry.py`` and check that basic
auth, webhook verification and session signing use the values stored there.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import importlib
import json
import os
import secrets
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest
import yaml
from botocore.stub import Stubber
from daloy_edge_aws_lambda import LambdaHandler
from daloy_edge_aws_lambda.secrets_manager import env_with_secrets

from daloy_edge import ConfigError
from tests.conformance.harness.client import Reply
from tests.conformance.harness.gateways import CLIENT_IP, build_event, read_result
from tests.conformance.harness.servers import start_awslambdaric

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[4]
TEMPLATE = ROOT / "infra" / "aws" / "template.yaml"
entry = importlib.import_module("examples.lambda.secure_entry")

Send = Callable[[str, str, list[tuple[str, str]], bytes], Reply]


class Stored:
    """Three secrets created in moto, with the env the template would give the function."""

    def __init__(self, moto: object, *, passwords: str | None = None) -> None:
        self.client = moto.client("secretsmanager")  # type: ignore[attr-defined]
        self.session_key = secrets.token_urlsafe(48)
        self.admin_password = secrets.token_urlsafe(24)
        self.webhook_secret = secrets.token_urlsafe(32)
        suffix = uuid.uuid4().hex[:8]
        values = {
            "DALOY_SESSION_KEYS": self.session_key,
            "DALOY_ADMIN_PASSWORDS": passwords or self.admin_password,
            "DALOY_WEBHOOK_SECRETS": self.webhook_secret,
        }
        self.env = {
            "DALOY_ENV": "production",
            "DALOY_ADMIN_USER": "ops",
            "DALOY_ADMIN_CIDRS": f"{CLIENT_IP}/32",
        }
        for name, value in values.items():
            created = self.client.create_secret(Name=f"{name}-{suffix}", SecretString=value)
            self.env[f"{name}_SECRET_ARN"] = created["ARN"]


def lambda_send(lambda_handler: LambdaHandler) -> Send:
    def send(method: str, target: str, headers: list[tuple[str, str]], body: bytes) -> Reply:
        pairs = [("host", "api.example.com"), *headers]
        event = build_event("http-v2", method, target, pairs, body)
        return read_result("http-v2", lambda_handler(event, None))

    return send


def basic(user: str, password: str) -> list[tuple[str, str]]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return [("authorization", f"Basic {token}")]


def signed(secret: str, body: bytes) -> list[tuple[str, str]]:
    stamp = str(int(time.time()))
    mac = hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    return [("content-type", "application/json"), ("x-signature", f"t={stamp},v1={mac}")]


def login(send: Send) -> str:
    reply = send(
        "POST",
        "/session/login",
        [("content-type", "application/json"), ("sec-fetch-site", "same-origin")],
        b'{"user": "ana"}',
    )
    assert reply.status == 204, reply.body
    cookie = next(c for c in reply.headers.get_all("set-cookie") if c.startswith("__Host-"))
    return cookie.split(";", 1)[0]


@pytest.fixture
def stored(moto: object) -> Stored:
    return Stored(moto)


@pytest.fixture
def send(stored: Stored) -> Send:
    return lambda_send(entry.build(stored.env, client=stored.client))


def test_admin_basic_auth_accepts_the_password_from_secrets_manager(
    stored: Stored, send: Send
) -> None:
    assert send("GET", "/admin/stats", basic("ops", stored.admin_password), b"").status == 200


def test_admin_basic_auth_refuses_any_other_password(stored: Stored, send: Send) -> None:
    reply = send("GET", "/admin/stats", basic("ops", secrets.token_urlsafe(24)), b"")
    assert reply.status == 401


def test_webhook_signed_with_the_stored_secret_is_received(stored: Stored, send: Send) -> None:
    body = b'{"event": "paid"}'
    reply = send("POST", "/webhooks/ingest", signed(stored.webhook_secret, body), body)
    assert (reply.status, reply.json()) == (200, {"received": True})


def test_webhook_signed_with_another_secret_is_refused(send: Send) -> None:
    body = b'{"event": "paid"}'
    reply = send("POST", "/webhooks/ingest", signed(secrets.token_urlsafe(32), body), body)
    assert reply.status == 401


def test_sessions_are_signed_with_the_stored_key(stored: Stored, send: Send) -> None:
    cookie = login(send)
    plain = {**stored.env, "DALOY_SESSION_KEYS": stored.session_key}
    plain = {k: v for k, v in plain.items() if not k.endswith("_SECRET_ARN")}
    same_key = lambda_send(entry.build(plain))
    assert same_key("GET", "/session/me", [("cookie", cookie)], b"").json() == {"user": "ana"}


def test_session_cookie_does_not_verify_under_another_key(stored: Stored, send: Send) -> None:
    cookie = login(send)
    other = {k: v for k, v in stored.env.items() if not k.endswith("_SECRET_ARN")}
    other["DALOY_SESSION_KEYS"] = secrets.token_urlsafe(48)
    other_key = lambda_send(entry.build(other))
    assert other_key("GET", "/session/me", [("cookie", cookie)], b"").status == 401


def test_secret_holding_a_json_list_rotates_admin_passwords(moto: object) -> None:
    new, old = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
    stored = Stored(moto, passwords=json.dumps([new, old]))
    send = lambda_send(entry.build(stored.env, client=stored.client))
    for password in (new, old):
        assert send("GET", "/admin/stats", basic("ops", password), b"").status == 200


def test_secret_values_go_into_the_mapping_not_os_environ(stored: Stored) -> None:
    resolved = env_with_secrets(stored.env, entry.SECRET_VARIABLES, client=stored.client)
    assert resolved["DALOY_ADMIN_PASSWORDS"] == stored.admin_password
    assert "DALOY_ADMIN_PASSWORDS" not in os.environ


def test_variable_set_both_plainly_and_by_arn_refuses(stored: Stored) -> None:
    env = {**stored.env, "DALOY_SESSION_KEYS": secrets.token_urlsafe(48)}
    with pytest.raises(ConfigError, match="DALOY_SESSION_KEYS and DALOY_SESSION_KEYS_SECRET_ARN"):
        env_with_secrets(env, entry.SECRET_VARIABLES, client=stored.client)


def test_binary_secret_refuses(moto: object) -> None:
    client = moto.client("secretsmanager")  # type: ignore[attr-defined]
    arn = client.create_secret(Name=f"binary-{uuid.uuid4().hex}", SecretBinary=b"\x01" * 32)["ARN"]
    with pytest.raises(ConfigError, match="stored as text"):
        env_with_secrets({"X_SECRET_ARN": arn}, ["X"], client=client)


def test_value_with_a_comma_inside_a_json_key_refuses(moto: object) -> None:
    client = moto.client("secretsmanager")  # type: ignore[attr-defined]
    value = json.dumps(["a" * 20 + "," + "b" * 20])
    arn = client.create_secret(Name=f"comma-{uuid.uuid4().hex}", SecretString=value)["ARN"]
    with pytest.raises(ConfigError, match="comma") as refused:
        env_with_secrets({"X_SECRET_ARN": arn}, ["X"], client=client)
    assert "a" * 20 not in str(refused.value)


@pytest.mark.parametrize("around", ["\n", " ", "\u00a0"])
def test_json_key_with_whitespace_around_it_refuses(moto: object, around: str) -> None:
    # A key read from a file keeps its newline in the JSON. The app reads the joined list
    # with KeyRing.from_csv, which strips each key, while SecretsManagerKeyRing reads the
    # same secret whole: the Lambda signed sessions with one key, and code following the
    # secret live verified with another, refusing every value the other signed.
    from daloy_edge_aws_lambda.secrets_manager import SecretsManagerKeyRing

    client = moto.client("secretsmanager")  # type: ignore[attr-defined]
    key = "k" * 40
    value = json.dumps([key + around, "o" * 40])
    arn = client.create_secret(Name=f"spaced-{uuid.uuid4().hex}", SecretString=value)["ARN"]
    assert SecretsManagerKeyRing(arn, client=client).get().primary.equals(key + around)
    with pytest.raises(ConfigError, match="space or line break around it") as refused:
        env_with_secrets({"X_SECRET_ARN": arn}, ["X"], client=client)
    assert key not in str(refused.value)


@pytest.mark.parametrize("value", ['[" "]', '{"keys": ["\\n", "\\t"]}'])
def test_secret_holding_only_blank_json_keys_refuses_as_empty(moto: object, value: str) -> None:
    # Joined as " ", the variable named no key once read: the app signed sessions with a
    # random per-process key instead of the managed ones.
    client = moto.client("secretsmanager")  # type: ignore[attr-defined]
    arn = client.create_secret(Name=f"blank-{uuid.uuid4().hex}", SecretString=value)["ARN"]
    with pytest.raises(ConfigError, match="X is empty"):
        env_with_secrets({"X_SECRET_ARN": arn}, ["X"], client=client)


def test_missing_secret_fails_the_build_naming_the_variable(moto: object) -> None:
    client = moto.client("secretsmanager")  # type: ignore[attr-defined]
    arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:absent-AbCdEf"
    with pytest.raises(ConfigError, match=r"X_SECRET_ARN: .*ResourceNotFound"):
        env_with_secrets({"X_SECRET_ARN": arn}, ["X"], client=client)


def test_secret_scheduled_for_deletion_fails_the_build_naming_the_variable(
    moto: object,
) -> None:
    client = moto.client("secretsmanager")  # type: ignore[attr-defined]
    arn = client.create_secret(Name=f"doomed-{uuid.uuid4().hex}", SecretString="v" * 32)["ARN"]
    client.delete_secret(SecretId=arn, RecoveryWindowInDays=7)
    with pytest.raises(ConfigError, match=r"X_SECRET_ARN: .*InvalidRequest"):
        env_with_secrets({"X_SECRET_ARN": arn}, ["X"], client=client)


@pytest.mark.parametrize("code", ["AccessDeniedException", "ThrottlingException"])
def test_refused_read_at_cold_start_fails_the_build_naming_the_variable(
    moto: object, code: str
) -> None:
    client = moto.client("secretsmanager")  # type: ignore[attr-defined]
    stubber = Stubber(client)
    stubber.add_client_error("get_secret_value", service_error_code=code)
    arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:guarded-AbCdEf"
    with stubber, pytest.raises(ConfigError, match=f"DALOY_ADMIN_PASSWORDS_SECRET_ARN: .*{code}"):
        env_with_secrets(
            {"DALOY_ADMIN_PASSWORDS_SECRET_ARN": arn}, entry.SECRET_VARIABLES, client=client
        )


def test_secret_that_is_malformed_json_fails_the_build_naming_the_variable(
    moto: object,
) -> None:
    client = moto.client("secretsmanager")  # type: ignore[attr-defined]
    value = '["' + "s" * 32 + '"'
    arn = client.create_secret(Name=f"broken-{uuid.uuid4().hex}", SecretString=value)["ARN"]
    with pytest.raises(ConfigError, match="DALOY_WEBHOOK_SECRETS") as refused:
        env_with_secrets(
            {"DALOY_WEBHOOK_SECRETS_SECRET_ARN": arn}, entry.SECRET_VARIABLES, client=client
        )
    assert "s" * 32 not in str(refused.value)


def test_secret_in_another_region_is_read_where_its_arn_points(moto: object, aws_env: None) -> None:
    endpoint = moto.endpoint  # type: ignore[attr-defined]
    abroad = moto.client("secretsmanager", region="eu-west-1")  # type: ignore[attr-defined]
    password = secrets.token_urlsafe(24)
    name = f"abroad-{uuid.uuid4().hex}"
    arn = abroad.create_secret(Name=name, SecretString=password)["ARN"]
    env = {"DALOY_ADMIN_PASSWORDS_SECRET_ARN": arn}
    resolved = env_with_secrets(env, entry.SECRET_VARIABLES, endpoint_url=endpoint)
    assert resolved["DALOY_ADMIN_PASSWORDS"] == password


def test_without_arns_boto3_is_never_imported() -> None:
    code = (
        "import importlib, sys\n"
        "from daloy_edge_aws_lambda.secrets_manager import env_with_secrets\n"
        "entry = importlib.import_module('examples.lambda.secure_entry')\n"
        "env = {'DALOY_SESSION_KEYS': 'k' * 48}\n"
        "assert env_with_secrets(env, entry.SECRET_VARIABLES) == env\n"
        "entry.build({'DALOY_ENV': 'development', **env})\n"
        "assert 'boto3' not in sys.modules and 'botocore' not in sys.modules\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr


class _CloudFormation(yaml.SafeLoader):
    """Reads the template with its short-form tags (``!Ref``) as plain values."""


_CloudFormation.add_multi_constructor("!", lambda loader, suffix, node: None)


def template_handler() -> str:
    template = yaml.load(TEMPLATE.read_text(), Loader=_CloudFormation)
    return str(template["Resources"]["AppFunction"]["Properties"]["Handler"])


def test_template_handler_reads_secrets_at_init_under_the_real_runtime_client(
    stored: Stored, moto: object, tmp_path: Path
) -> None:
    # awslambdaric imports the template's Handler and builds the app in its init phase;
    # boto3 finds moto through the service's endpoint variable, as it would find AWS.
    runtime_env: Mapping[str, str] = {
        **stored.env,
        "AWS_ENDPOINT_URL_SECRETS_MANAGER": moto.endpoint,  # type: ignore[attr-defined]
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }
    runtime = start_awslambdaric(template_handler(), "http-v2", runtime_env, tmp_path / "log")
    try:
        admitted = runtime.get("/admin/stats", headers=basic("ops", stored.admin_password))
        refused = runtime.get("/admin/stats", headers=basic("ops", "not-the-password-1"))
    finally:
        runtime.close()
    assert (admitted.status, refused.status) == (200, 401)
