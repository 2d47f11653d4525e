"""checkov runs for real. As root, the scan runs inside ``unshare -n`` so that it
provably sends nothing anywhere; the tool itself is fetched from PyPI once beforehand."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from daloy_edge.verify import Status
from daloy_edge.verify.gates.iac import checkov_command
from tests.verify.conftest import gate

NAME = "iac"
BUCKET = """
AWSTemplateFormatVersion: "2010-09-09"
Resources:
  Bucket:
    Type: AWS::S3::Bucket
    Metadata:
      checkov:
        skip:
{skips}
    Properties:
      BucketName: public-data
      AccessControl: PublicRead
"""
FAILING = ["CKV_AWS_18", "CKV_AWS_20", "CKV_AWS_21", "CKV_AWS_53", "CKV_AWS_54", "CKV_AWS_55",
           "CKV_AWS_56"]  # fmt: skip


def template(skips: dict[str, str | None]) -> str:
    lines = []
    for check, reason in skips.items():
        lines.append(f"          - id: {check}")
        if reason:
            lines.append(f'            comment: "{reason}"')
    return BUCKET.format(skips="\n".join(lines) or "          []")


@pytest.fixture(scope="module")
def checkov(tmp_path_factory):
    """Make sure checkov is installed, then run scans with the network unshared (as root)."""
    command = checkov_command()
    if command is None:
        pytest.fail("neither uv nor checkov is available to run the iac gate")
    subprocess.run([*command, "--version"], check=True, capture_output=True, timeout=900)
    unshare = shutil.which("unshare")
    if os.geteuid() == 0 and unshare and command[1:3] == ["tool", "run"]:
        offline = [command[0], "tool", "run", "--offline", *command[3:]]
        os.environ["DALOY_CHECKOV"] = " ".join([unshare, "-n", "--", *offline])
    elif os.geteuid() == 0 and unshare:
        os.environ["DALOY_CHECKOV"] = " ".join([unshare, "-n", "--", *command])
    yield
    os.environ.pop("DALOY_CHECKOV", None)


def test_passes_with_nothing_to_scan_without_infra(layout):
    result = gate(layout({"app.py": "x = 1\n"}), NAME)
    assert result.status is Status.PASS
    assert result.detail == "nothing to scan (no infra/ directory)"


@pytest.mark.slow
def test_flags_a_public_unversioned_bucket(layout, checkov):
    result = gate(layout({"infra/template.yaml": template({})}), NAME)
    assert result.status is Status.FAIL
    assert {f.message.split()[0] for f in result.findings} == set(FAILING)
    assert {f.location() for f in result.findings} == {"infra/template.yaml:4"}


@pytest.mark.slow
def test_only_the_skip_without_a_written_reason_fails(layout, checkov):
    skips: dict[str, str | None] = {c: "static site bucket, public by design" for c in FAILING}
    skips["CKV_AWS_18"] = None
    result = gate(layout({"infra/template.yaml": template(skips)}), NAME)
    assert [f.message for f in result.findings] == [
        "CKV_AWS_18 skipped without a written reason (AWS::S3::Bucket.Bucket)"
    ]
