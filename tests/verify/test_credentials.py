from __future__ import annotations

from daloy_edge.verify import Status
from tests.verify.conftest import gate, messages

NAME = "leaked-credentials"
# Built at run time so that this file itself holds no credential-shaped text.
AWS_ID = "AKIA" + "Q7W2ZJ5XKD3N8VHP"
KEY_BODY = "\n".join(["MIIEow" + "IBAAKCAQEAx" * 6] * 3)
PEM = f"-----BEGIN RSA {'PRIVATE'} KEY-----\n{KEY_BODY}\n-----END RSA PRIVATE KEY-----\n"
STUB_PEM = "-----BEGIN " + "PRIVATE KEY-----MIIEv-----END PRIVATE KEY-----"
GITHUB = "ghp_" + "aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3z5A"
DB_PASSWORD = "Zx81" + "kqLp0m"
RANDOM_TOKEN = "q8Zt3" + "Lw9Vb2Nx7Kc4Mj6Hp1Rs5Tf0Yd"


def test_flags_an_aws_access_key_id_in_config(layout):
    result = gate(layout({"deploy/settings.toml": f'key_id = "{AWS_ID}"\n'}), NAME)
    assert messages(result) == ["deploy/settings.toml:1:11 AWS access key id committed"]


def test_flags_a_private_key_even_in_tests(layout):
    result = gate(layout({"tests/fixtures/key.pem": PEM}), NAME)
    assert messages(result) == ["tests/fixtures/key.pem:1:1 private key committed"]


def test_ignores_a_key_header_with_a_stub_body(layout):
    code = f"def test_redacts():\n    assert redact({STUB_PEM!r}) == '***'\n"
    assert gate(layout({"tests/test_redact.py": code}), NAME).status is Status.PASS


def test_flags_a_github_token_and_a_password_in_a_url(layout):
    text = f"TOKEN={GITHUB}\nDB=postgres://app:{DB_PASSWORD}@db.internal/app\n"
    result = gate(layout({"scripts/env.sh": text}), NAME)
    assert [f.message for f in result.findings] == [
        "GitHub token committed",
        "password in URL committed",
    ]


def test_flags_a_committed_dotenv_value(layout):
    result = gate(layout({".env": "DEBUG=1\nSESSION_SECRET=letmein-but-longer\n"}), NAME)
    assert messages(result) == [".env:2 SESSION_SECRET has a value in a committed .env"]


def test_flags_a_high_entropy_literal_assigned_to_a_secret_name(layout):
    result = gate(layout({"app/config.py": f'API_KEY = "{RANDOM_TOKEN}"\n'}), NAME)
    assert messages(result) == ["app/config.py:1:11 hard-coded secret in `API_KEY`"]


def test_passes_documented_examples_placeholders_and_code(layout):
    files = {
        "docs/aws.md": "aws_access_key_id = AKIAIOSFODNN7EXAMPLE\n",
        "app/config.py": (
            'SECRET_KEY = os.environ["SECRET_KEY"]\n'
            'token_pattern = r"[A-Za-z0-9]{32}"\n'
            'password = "changeme-in-production-please"\n'
            f'request_id_example = "{RANDOM_TOKEN}"\n'
        ),
        ".env.example": "SESSION_SECRET=your-secret-here\n",
        "tests/test_sig.py": f'secret = "{RANDOM_TOKEN}"\n',
    }
    assert gate(layout(files), NAME).status is Status.PASS
