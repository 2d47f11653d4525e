from __future__ import annotations

from daloy_edge.verify import Status
from tests.verify.conftest import gate, messages

NAME = "actions-pinned"
SHA = "b4ffde65f46336ab88eb53be808477a3936bae11"


def test_flags_tag_pinned_action_in_a_workflow(layout):
    workflow = "on: push\njobs:\n  t:\n    steps:\n      - uses: actions/checkout@v4\n"
    result = gate(layout({".github/workflows/ci.yml": workflow}), NAME)
    assert messages(result) == [
        ".github/workflows/ci.yml:5 `actions/checkout@v4` is pinned to a movable ref: use the "
        "full commit SHA"
    ]


def test_flags_unpinned_docker_and_dynamic_uses_in_a_template(layout):
    template = (
        "jobs:\n  t:\n    steps:\n"
        "      - uses: docker://alpine:3.20\n"
        "      - uses: ${{ matrix.action }}\n"
        "      - uses: 'org/reusable/.github/workflows/x.yml@main'  # pinned later\n"
    )
    result = gate(layout({"templates/ci/deploy.yaml": template}), NAME)
    assert [f.line for f in result.findings] == [4, 5, 6]


def test_passes_sha_pins_digests_and_local_actions(layout):
    workflow = (
        "jobs:\n  t:\n    steps:\n"
        f"      - uses: actions/checkout@{SHA} # v4.1.1\n"
        f'      - uses: "astral-sh/setup-uv@{SHA}"\n'
        "      - uses: ./.github/actions/setup\n"
        f"      - uses: docker://alpine@sha256:{'0' * 64}\n"
    )
    result = gate(layout({".github/workflows/ci.yml": workflow, "other.yml": "uses: x@v1\n"}), NAME)
    assert result.status is Status.PASS
    assert result.detail == "1 workflow files"
