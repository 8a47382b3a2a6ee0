"""Schemathesis hooks for tests/api/test_schemathesis.py (loaded via SCHEMATHESIS_HOOKS).

One rule of the API cannot be stated in JSON Schema: a metrics window's
``from`` must not be after its ``to``. The coverage phase pairs boundary values
of each parameter (``from=2000-01-01T00:00:00Z&to=0``) and the server rightly
refuses them. This hook excuses exactly that refusal, recognised by the problem
it answers with; every other "schema-valid request rejected" still fails.
"""

from __future__ import annotations

import json
from typing import Any

import schemathesis

ORDER_RULE = "must not be after"


@schemathesis.hook
def filter_failure(ctx: Any, failure: Any, case: Any, response: Any) -> bool:
    """False (drop) only for the window-order refusal of a schema-valid request."""
    if getattr(failure, "code", "") != "ST202" or response.status_code != 422:
        return True
    try:
        errors = json.loads(response.content)["errors"]
    except (ValueError, KeyError, TypeError):
        return True
    return not (
        len(errors) == 1 and errors[0]["field"] == "from" and errors[0]["message"].startswith(ORDER_RULE)
    )
