from __future__ import annotations

from daloy_edge.verify import Status
from tests.verify.conftest import gate, messages


def test_flags_weak_hash_for_security(layout):
    code = "import hashlib\ndef fingerprint(data):\n    return hashlib.md5(data).hexdigest()\n"
    result = gate(layout({"app/h.py": code}), "bandit")
    assert [m.split(" ", 2)[:2] for m in messages(result)] == [["app/h.py:3:12", "B324"]]


def test_nosec_without_reason_does_not_hide_a_finding(layout):
    code = "import hashlib\nd = hashlib.md5(b'x')  # nosec\n"
    assert gate(layout({"app/h.py": code}), "bandit").status is Status.FAIL


def test_verify_waiver_with_reason_does(layout):
    code = (
        "import hashlib\n"
        "# verify: allow bandit -- cache key for public files, not a security boundary\n"
        "d = hashlib.md5(b'x')\n"
    )
    result = gate(layout({"app/h.py": code}), "bandit")
    assert result.status is Status.PASS
    assert result.detail == "1 files (1 waived)"


def test_passes_clean_code_and_ignores_tests(layout):
    files = {
        "app/h.py": "import hashlib\nd = hashlib.sha256(b'x').hexdigest()\n",
        "tests/test_h.py": "import hashlib\nhashlib.md5(b'x')\n",
    }
    assert gate(layout(files), "bandit").status is Status.PASS
