"""Any error as the HTTP response the caller gets: the one renderer of `errors.answer_for`.

The routes (app.py), the Flagger route (with its own status rule) and serve's limits
(serving.py, before or around the app) all answer errors through `error_response`.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.responses import JSONResponse

from honeycomb_evaluator.errors import answer_for

# The status a route answers an error with, from the documented status and code (Flagger's
# route turns some into 424: gates/flagger.py `flagger_status`).
StatusRule = Callable[[int, str], int]


def error_response(
    error: BaseException, request_id: str | None = None, status_rule: StatusRule | None = None
) -> JSONResponse:
    answer = answer_for(error)
    status = answer.status if status_rule is None else status_rule(answer.status, answer.code)
    headers = answer.headers()
    if status in (408, 413):  # the rest of the body is not read: this connection is done
        headers["Connection"] = "close"
    if request_id:
        headers["X-Request-Id"] = request_id
    return JSONResponse(answer.body(), status_code=status, headers=headers)
