from __future__ import annotations

import datetime as dt

from daloy_edge.verify import Status
from daloy_edge.verify.gates.runtime_eol import lowest_python
from tests.verify.conftest import gate, messages

NAME = "runtime-eol"


def project_toml(spec: str, *classifiers: str) -> str:
    listed = ", ".join(f'"Programming Language :: Python :: {c}"' for c in classifiers)
    return f'[project]\nname = "x"\nrequires-python = "{spec}"\nclassifiers = [{listed}]\n'


def test_flags_requires_python_that_admits_an_eol_version(layout):
    result = gate(layout({"pyproject.toml": project_toml(">=3.9", "3.9", "3.12")}), NAME)
    assert messages(result) == [
        "pyproject.toml classifier Python 3.9: end of life since 2025-10-31",
        "pyproject.toml requires-python '>=3.9' admits Python 3.9: end of life since 2025-10-31",
    ]


def test_flags_deprecated_lambda_runtimes_in_infra(layout):
    files = {
        "pyproject.toml": project_toml(">=3.12"),
        "infra/template.yaml": "Resources:\n  Fn:\n    Properties:\n      Runtime: python3.10\n",
        "infra/cdk/app.py": "fn = Function(runtime=Runtime.PYTHON_3_8)\n",
        "infra/Dockerfile": "FROM public.ecr.aws/lambda/python:3.9\n",
    }
    assert messages(gate(layout(files), NAME)) == [
        "infra/Dockerfile:1 Lambda base image lambda/python:3.9: end of life since 2025-12-15",
        "infra/cdk/app.py:1 Lambda runtime python3.8: end of life since 2024-10-14",
        "infra/template.yaml:4 Lambda runtime python3.10: end of life since 2026-06-30",
    ]


def test_passes_supported_versions_and_notes_ones_near_their_end(layout):
    files = {
        "pyproject.toml": project_toml(">=3.11"),
        "infra/template.yaml": "      Runtime: python3.13\n",
        ".python-version": "3.12\n",
    }
    result = gate(layout(files, today=dt.date(2027, 6, 1)), NAME)
    assert result.status is Status.PASS
    assert result.notes == (
        "pyproject.toml: requires-python '>=3.11' admits Python 3.11: end of life on 2027-10-31, "
        "in 152 days",
    )


def test_the_same_declaration_fails_once_its_date_passes(layout):
    files = {"pyproject.toml": project_toml(">=3.11")}
    assert gate(layout(files, today=dt.date(2027, 11, 1)), NAME).status is Status.FAIL


def test_lowest_python_reads_specifier_sets():
    assert lowest_python(">=3.10,<4") == "3.10"
    assert lowest_python("~=3.12") == "3.12"
    assert lowest_python(">3.4") == "3.5"
