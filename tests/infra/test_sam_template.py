"""What the reference SAM template deploys: how requests reach the function, and who may
invoke it. cfn-lint checks that the template is valid (``test_cfn_lint.py``); these
check that what it builds serves the app as CONTRACT.md describes it.
"""

from __future__ import annotations

import tomllib
from typing import Any

from cfnlint.decode import decode_str

from tests.infra.test_wrangler import PRODUCTION as WORKER
from tests.infra.test_wrangler import SECRETS as WORKER_SECRETS
from tests.support.servers import ROOT

TEMPLATE = ROOT / "infra" / "aws" / "template.yaml"


def template() -> dict[str, Any]:
    parsed, problems = decode_str(TEMPLATE.read_text(encoding="utf-8"))
    assert problems == []
    return dict(parsed)


def resources(kind: str) -> dict[str, dict[str, Any]]:
    return {name: r for name, r in template()["Resources"].items() if r["Type"] == kind}


def test_http_api_hands_the_app_paths_without_a_stage_segment() -> None:
    # An HTTP API puts a named stage in front of rawPath ("/prod/health"), so every
    # route of the app answered 404; only the $default stage serves the URL's root.
    (api,) = resources("AWS::Serverless::HttpApi").values()
    assert api["Properties"]["StageName"] == "$default"
    url = template()["Outputs"]["ApiUrl"]["Value"]["Fn::Sub"]
    assert url == "https://${HttpApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}/"


def test_public_function_url_is_granted_invoke_only_through_the_url() -> None:
    # A function URL created since October 2025 needs lambda:InvokeFunction as well as
    # lambda:InvokeFunctionUrl: with the latter alone every request was refused (403).
    # The public grant of InvokeFunction must hold only through the URL, or any AWS
    # account could invoke the function directly, past the URL and the HTTP API.
    granted = {
        p["Properties"]["Action"]: p["Properties"]
        for p in resources("AWS::Lambda::Permission").values()
        if p["Properties"]["Principal"] == "*"
    }
    assert set(granted) == {"lambda:InvokeFunctionUrl", "lambda:InvokeFunction"}
    assert granted["lambda:InvokeFunctionUrl"]["FunctionUrlAuthType"] == "NONE"
    assert granted["lambda:InvokeFunction"]["InvokedViaFunctionUrl"] is True


def lambda_variables() -> set[str]:
    """The app's variables the function gets, set directly or as ``<NAME>_SECRET_ARN``."""
    (function,) = resources("AWS::Serverless::Function").values()
    names = function["Properties"]["Environment"]["Variables"]
    return {name.removesuffix("_SECRET_ARN") for name in names}


def test_lambda_is_configured_with_every_variable_the_production_worker_is() -> None:
    # Without DALOY_RATE_LIMIT_URL and its token every execution environment kept its own
    # counts and webhook deliveries: /limited allowed five a minute per environment, and a
    # replayed webhook was accepted by any environment that had not seen it.
    production = tomllib.loads(WORKER.read_text(encoding="utf-8"))
    assert set(production["vars"]) | set(WORKER_SECRETS) <= lambda_variables()


def test_the_rate_limit_token_is_read_only_from_its_own_secret() -> None:
    (function,) = resources("AWS::Serverless::Function").values()
    variables = function["Properties"]["Environment"]["Variables"]
    assert "DALOY_RATE_LIMIT_TOKEN" not in variables
    arn = variables["DALOY_RATE_LIMIT_TOKEN_SECRET_ARN"]
    assert arn == {
        "Fn::If": ["WithRateLimitStore", {"Ref": "RateLimitToken"}, {"Ref": "AWS::NoValue"}]
    }
    (role,) = resources("AWS::IAM::Role").values()
    (policy,) = role["Properties"]["Policies"]
    (readable,) = [s for s in policy["PolicyDocument"]["Statement"] if s["Sid"] == "OwnSecretsOnly"]
    assert arn in readable["Resource"]


def test_cloudwatch_logs_may_use_the_key_only_for_the_stacks_own_log_groups() -> None:
    # "log-group:*" let CloudWatch Logs use the app's key for any log group of the account
    # in the region, where it must serve the app's two only.
    (key,) = resources("AWS::KMS::Key").values()
    statements = key["Properties"]["KeyPolicy"]["Statement"]
    (logs,) = [s for s in statements if s["Sid"] == "CloudWatchLogsEncrypt"]
    groups = logs["Condition"]["ArnEquals"]["kms:EncryptionContext:aws:logs:arn"]
    prefix = "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:"
    names = {
        log["Properties"]["LogGroupName"]["Fn::Sub"]
        for log in resources("AWS::Logs::LogGroup").values()
    }
    assert sorted(group["Fn::Sub"] for group in groups) == sorted(prefix + name for name in names)
