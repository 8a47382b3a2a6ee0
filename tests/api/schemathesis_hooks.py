"""Schemathesis hooks for tests/api/test_schemathesis.py (loaded via SCHEMATHESIS_HOOKS).

Some rules of the API cannot be stated in JSON Schema, so Schemathesis generates
requests that break them and calls their refusal "schema-valid request rejected":

- a metrics window's ``from`` must not be after its ``to`` (the coverage phase pairs
  boundary values such as ``from=2000-01-01T00:00:00Z&to=0``);
- the alerts, billing and traffic bodies' cross-field rules, IANA timezones, cron
  expressions and references to rows that must exist: the server answers those with
  the problem type ``unmet-rule`` (api/errors.py ``unmet_rule``), never ``validation``.

This hook excuses exactly those refusals, recognised by the problem they answer with;
every other "schema-valid request rejected" still fails.
"""

from __future__ import annotations

import json
from typing import Any

import schemathesis

ORDER_RULE = "must not be after"
UNMET_RULE = "/unmet-rule"


@schemathesis.hook
def filter_failure(ctx: Any, failure: Any, case: Any, response: Any) -> bool:
    """False (drop) only for a schema-valid request refused by a rule the schema cannot state."""
    if getattr(failure, "code", "") != "ST202" or response.status_code != 422:
        return True
    try:
        errors = json.loads(response.content)["errors"]
    except (ValueError, KeyError, TypeError):
        return True
    if json.loads(response.content).get("type", "").endswith(UNMET_RULE):
        return False
    return not (
        len(errors) == 1 and errors[0]["field"] == "from" and errors[0]["message"].startswith(ORDER_RULE)
    )
