"""CloudFormation templates pass cfn-lint: the reference app's and the scaffolded one.

IaC policy scanning (checkov) runs in the verify gate; this is the template linter.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from daloy_edge.scaffold import generate
from tests.support.servers import ROOT

RUN_CFN_LINT = "import sys; from cfnlint.runner import main; sys.exit(main())"


def cfn_lint(template: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", RUN_CFN_LINT, "--format", "parseable", "--", str(template)],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )


def test_reference_sam_template_passes_cfn_lint() -> None:
    result = cfn_lint(ROOT / "infra/aws/template.yaml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_scaffolded_lambda_template_passes_cfn_lint(tmp_path: Path) -> None:
    generate("shop-api", "lambda", tmp_path)
    result = cfn_lint(tmp_path / "infra/template.yaml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_cfn_lint_refuses_a_log_retention_cloudwatch_does_not_offer(tmp_path: Path) -> None:
    template = (ROOT / "infra/aws/template.yaml").read_text()
    broken = tmp_path / "template.yaml"
    broken.write_text(
        template.replace("RetentionInDays: !Ref LogRetentionDays", "RetentionInDays: 42")
    )
    result = cfn_lint(broken)
    assert result.returncode != 0
    assert "E3030" in result.stdout
