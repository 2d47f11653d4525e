"""The documentation harness itself: it runs what it should, verifies the rest, and fails
when a block is wrong (so a green docs test means something)."""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

import pytest

from tests.docs.markdown import ROOT, blocks
from tests.docs.shell import to_script
from tests.docs.test_code_blocks import clone_view, shell_environment


def run(code: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-euo", "pipefail", "-c", to_script(code)],
        cwd=clone_view(Path(tempfile.mkdtemp(dir=tmp_path))),
        env=shell_environment(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_blocks_are_found_with_their_language_and_line(tmp_path: Path) -> None:
    doc = tmp_path / "page.md"
    doc.write_text("# t\n\n```python\nx = 1\n```\n\n- item\n\n  ```sh\n  echo hi\n  ```\n")
    found = blocks(doc)
    assert [(b.lang, b.line, b.code) for b in found] == [
        ("python", 3, "x = 1\n"),
        ("sh", 9, "echo hi\n"),
    ]


def test_unclosed_fence_is_an_error(tmp_path: Path) -> None:
    doc = tmp_path / "page.md"
    doc.write_text("```python\nx = 1\n")
    with pytest.raises(ValueError, match="unclosed"):
        blocks(doc)


def test_a_failing_command_fails_the_block(tmp_path: Path) -> None:
    assert run("daloy-edge no-such-command\n", tmp_path).returncode != 0


def test_expected_exit_status_is_honoured(tmp_path: Path) -> None:
    assert run("false  # exit status 1\n", tmp_path).returncode == 0
    assert run("true  # exit status 1\n", tmp_path).returncode != 0


def test_make_target_that_does_not_exist_fails(tmp_path: Path) -> None:
    result = run("make deploy-everything\n", tmp_path)
    assert result.returncode != 0
    assert "no target 'deploy-everything'" in result.stderr


def test_make_dev_is_verified_not_started(tmp_path: Path) -> None:
    assert run("make dev\n", tmp_path).returncode == 0


def test_commands_after_a_server_start_are_verified(tmp_path: Path) -> None:
    code = (
        "daloy-edge dev\n"
        'TOKEN=$(uv run daloy-edge token --sub alice --scope "reports:read")\n'
        "curl http://127.0.0.1:8000/api/me\n"
    )
    assert run(code, tmp_path).returncode == 0
    assert run(code.replace("--sub alice", "--subject alice"), tmp_path).returncode != 0


def test_curl_to_a_remote_host_fails(tmp_path: Path) -> None:
    assert run("make dev\ncurl https://example.com/\n", tmp_path).returncode != 0


def test_missing_template_path_fails(tmp_path: Path) -> None:
    result = run("sam deploy --template-file infra/aws/nope.yaml\n", tmp_path)
    assert "does not exist" in result.stderr


def test_undeclared_template_parameter_fails(tmp_path: Path) -> None:
    code = "sam build -t infra/aws/template.yaml --parameter-overrides NoSuchThing=1\n"
    assert "declares no parameter NoSuchThing" in run(code, tmp_path).stderr


def test_secret_the_app_does_not_read_fails(tmp_path: Path) -> None:
    code = "wrangler secret put DALOY_NOT_A_THING -c infra/cloudflare/wrangler.toml\n"
    assert run(code, tmp_path).returncode != 0


def test_pywrangler_deploy_is_verified_against_its_config(tmp_path: Path) -> None:
    deploy = (
        "cd examples/workers\nuv run pywrangler deploy -c ../../infra/cloudflare/wrangler.toml\n"
    )
    assert run(deploy, tmp_path).returncode == 0
    wrong = "uv run pywrangler deploy -c examples/workers/wrangler.toml.missing\n"
    assert "does not exist" in run(wrong, tmp_path).stderr


def test_wrangler_config_whose_main_is_missing_fails(tmp_path: Path) -> None:
    code = (
        'mkdir w && printf \'name = "x"\\nmain = "src/gone.py"\\n\' > w/wrangler.toml\n'
        "wrangler deploy -c w/wrangler.toml\n"
    )
    assert "which does not exist" in run(code, tmp_path).stderr


def test_secret_value_on_the_aws_command_line_fails(tmp_path: Path) -> None:
    inline = "aws secretsmanager put-secret-value --secret-id x --secret-string hunter2hunter2\n"
    assert "never inline" in run(inline, tmp_path).stderr
    from_file = "aws secretsmanager put-secret-value --secret-id x --secret-string file://k.json\n"
    assert run(from_file, tmp_path).returncode == 0


def test_function_deployed_without_a_project_id_fails(tmp_path: Path) -> None:
    """A 2nd-generation function is given no GOOGLE_CLOUD_PROJECT: deployed without it,
    none of its lines names its trace as Cloud Logging reads it."""
    deploy = (
        "daloy-edge new hello --target gcf\ncd hello\n"
        "gcloud functions deploy hello --gen2 --runtime python313 --source . "
        "--entry-point gcf_handler --trigger-http"
    )
    assert "GOOGLE_CLOUD_PROJECT" in run(deploy + "\n", tmp_path).stderr
    named = run(deploy + " --set-env-vars GOOGLE_CLOUD_PROJECT=my-project\n", tmp_path)
    assert named.returncode == 0


def test_package_outside_the_lock_fails(tmp_path: Path) -> None:
    assert run("pip install daloy-edge requets\n", tmp_path).returncode != 0
    assert run("pip install 'daloy-edge[jwt]' daloy-edge-asgi\n", tmp_path).returncode == 0


def test_scaffold_then_verify_paths_inside_it(tmp_path: Path) -> None:
    code = (
        "daloy-edge new shop-api --target lambda\ncd shop-api\nsam build -t infra/template.yaml\n"
    )
    assert run(code, tmp_path).returncode == 0
    assert not (ROOT / "shop-api").exists()


def test_uv_run_runs_the_command_from_this_environment(tmp_path: Path) -> None:
    assert (
        run("uv run daloy-edge --help > help.txt\ngrep -q check help.txt\n", tmp_path).returncode
        == 0
    )


def test_heredoc_bodies_are_kept(tmp_path: Path) -> None:
    code = (
        "cat > a.env <<'EOF'\n"
        "DALOY_ENV=production # not a comment to strip\n"
        "EOF\n"
        "grep -q 'production # not' a.env\n"
    )
    assert run(code, tmp_path).returncode == 0


def test_unknown_long_running_command_cannot_be_verified(tmp_path: Path) -> None:
    result = run("make dev\necho hello\n", tmp_path)
    assert "no way to verify" in result.stderr
