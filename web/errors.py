"""Map errors to responses: JSON for the API (`KlasterError.to_dict()`: `error`, `field`,
`message`, `message_id`, `params`), an inline-error fragment (422 and friends) for htmx forms,
a full error page otherwise; 401 on a page redirects to the sign-in form. Pages show a market
error translated by its message id, its params formatted for the reader
(`web.ui.i18n.translate_message`)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from litestar import Request, Response
from litestar.exceptions import (
    HTTPException,
    NotAuthorizedException,
    PermissionDeniedException,
    ValidationException,
)
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR
from litestar.types import ExceptionHandlersMap
from sqlalchemy import exc as sa_exc

from market.core.errors import KlasterError
from market.core.fields import every_error
from web.auth import API_PREFIX
from web.config import app_services
from web.ui.i18n import N_, connection_locale, gettext, translate_message


@dataclass(frozen=True)
class ErrorBody:
    """Every error the API answers (`KlasterError.to_dict()`; Litestar's own errors, such as
    a malformed body or parameter, are mapped to the same shape by `http_error_handler`)."""

    #: The error's class: ValidationFailed, OrderRejected, NotFound, Forbidden, Conflict, ...
    error: str
    #: The field or parameter at fault ("" when none).
    field: str
    #: The message in English (the reader's language on the pages).
    message: str
    #: The English text with `%(name)s` placeholders, the key of the translations.
    message_id: str
    #: The placeholders' values.
    params: dict[str, Any]


GENERIC = {
    400: N_("The request could not be understood."),
    401: N_("Please sign in."),
    403: N_("You do not have access to this page."),
    404: N_("Nothing here: the page or record does not exist."),
    405: N_("This action is not allowed here."),
    409: N_("This conflicts with the current state; reload and try again."),
    413: N_("The request is too large: send a smaller file or fewer rows at a time."),
    422: N_("Please correct the highlighted fields."),
    429: N_("Too many attempts. Wait a moment and try again."),
    500: N_("Something went wrong on our side. Please try again."),
    503: N_("The market's database cannot be reached right now. Please try again in a moment."),
}

#: A value the parsers let through and the database refused (the last line of defence: each
#: such case is a parser to fix, but never a 500).
DATA_REFUSED = N_("A value is out of range or not allowed here.")


#: A parameter of a page that could not be read (Litestar's own validation).
INVALID_FIELD = N_("The value of %(field)s is not valid here.")

CSRF_FAILED = N_(
    "This form has expired or did not come from this site. Reload the page and try again."
)


def is_api(request: Request[Any, Any, Any]) -> bool:
    return request.url.path.startswith(API_PREFIX) or request.url.path.startswith("/schema")


def is_htmx(request: Request[Any, Any, Any]) -> bool:
    return request.headers.get("hx-request") == "true"


def _json(status: int, field: str, message: str, error: str) -> Response[dict[str, object]]:
    body: dict[str, object] = {
        "error": error,
        "field": field,
        "message": message,
        "message_id": message,
        "params": {},
    }
    return Response(body, status_code=status)


def _page(request: Request[Any, Any, Any], status: int, message: str) -> Response[Any]:
    from web.ui.render import render

    template = "_error.html" if is_htmx(request) else "error.html"
    return render(request, template, status_code=status, status=status, message=message)


def klaster_error_handler(request: Request[Any, Any, Any], exc: KlasterError) -> Response[Any]:
    if is_api(request):
        return Response(exc.to_dict(), status_code=exc.status_code)
    timezone = app_services(request.app).settings.timezone
    message = translate_message(exc.message_id, exc.params, connection_locale(request), timezone)
    state = request.scope.get("state", {})
    form = state.get("form")
    if is_htmx(request) and form is not None:
        # The controller said which form to re-render: show it again with the message inline
        # (and every other field's error too, when it named the form's parser).
        template, context = form
        errors = {exc.field or "__all__": message}
        check = state.get("form_check")
        if check is not None:
            locale = connection_locale(request)
            for error in every_error(*check):
                errors.setdefault(
                    error.field or "__all__",
                    translate_message(error.message_id, error.params, locale, timezone),
                )
        return Template(
            template, context={**context, "errors": errors}, status_code=exc.status_code
        )
    return _page(request, exc.status_code, message)


def http_error_handler(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    response = _http_error_response(request, exc)
    for name, value in (exc.headers or {}).items():  # e.g. Retry-After on a 429
        response.headers[name] = value
    return response


def _http_error_response(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    status = exc.status_code
    if isinstance(exc, NotAuthorizedException) and not is_api(request):
        target = "/login?next=" + request.url.path
        if is_htmx(request):
            return Response("", status_code=401, headers={"HX-Redirect": target})
        return Redirect(target)
    locale = connection_locale(request)
    if is_api(request):
        message = str(exc.detail)
        if isinstance(exc, ValidationException) and isinstance(exc.extra, list) and exc.extra:
            first = exc.extra[0]
            if isinstance(first, dict):
                message = str(first.get("message") or message)
        return _json(status, _invalid_field(exc), message, type(exc).__name__)
    message = gettext(GENERIC.get(status, GENERIC[400]), locale)
    field = _invalid_field(exc)
    if field:  # a query parameter of a page that is not what it should be (`?page=x`)
        message = gettext(INVALID_FIELD, locale) % {"field": field}
    if isinstance(exc, PermissionDeniedException) and "CSRF" in str(exc.detail):
        message = gettext(CSRF_FAILED, locale)
    form = request.scope.get("state", {}).get("form")
    if is_htmx(request) and form is not None:
        # a form refused past its parser (a 429 on sign-in, say): the form again, as typed,
        # with the message in its error box — not a bare message in the form's place
        template, context = form
        return Template(
            template, context={**context, "errors": {"__all__": message}}, status_code=status
        )
    return _page(request, status, message)


#: Litestar's and msgspec's words for a missing parameter or body field, and where a body's
#: field is (`$.orders[0].side`): the field is named from them, not left as `data` or "".
_MISSING = re.compile(r"Missing required \w+ parameter '([^']+)'|missing required field `([^`]+)`")
_BODY_PATH = re.compile(r"- at `\$\.([\w.\[\]]+)`")


def _invalid_field(exc: HTTPException) -> str:
    """The parameter or body field Litestar could not read (a `ValidationException`), or ""."""
    if not isinstance(exc, ValidationException):
        return ""
    key, message = "", str(exc.detail)
    if isinstance(exc.extra, list) and exc.extra and isinstance(exc.extra[0], dict):
        key = str(exc.extra[0].get("key") or "")
        message = str(exc.extra[0].get("message") or message)
    if key and key != "data":
        return key
    missing = _MISSING.search(message)
    if missing:
        return missing.group(1) or missing.group(2)
    where = _BODY_PATH.search(message)
    if where:
        return re.sub(r"\[\d+\]", "", where.group(1)).split(".")[-1]
    return key


def internal_error_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    request.logger.exception("unhandled error on %s", request.url.path, exc_info=exc)
    status = HTTP_500_INTERNAL_SERVER_ERROR
    if is_api(request):
        return _json(status, "", "internal error", "InternalError")
    return _page(request, status, gettext(GENERIC[500], connection_locale(request)))


def _database_unreachable(exc: BaseException) -> bool:
    """A connection problem (refused, dropped, timed out), not a refused statement."""
    if isinstance(exc, (sa_exc.TimeoutError, ConnectionError, OSError)):
        return True
    if isinstance(exc, sa_exc.DBAPIError):
        if exc.connection_invalidated:
            return True
        if isinstance(exc, (sa_exc.OperationalError, sa_exc.InterfaceError)):
            return True
        return isinstance(exc.orig, (ConnectionError, OSError))
    return False


def database_error_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """503 when the database cannot be reached; 422 (409 for a uniqueness or check clash)
    when it refused a value the parsers should have refused; anything else stays a 500."""
    if _database_unreachable(exc):
        request.logger.warning("database unreachable on %s: %s", request.url.path, exc)
        status, message, error = 503, GENERIC[503], "ServiceUnavailable"
    elif isinstance(exc, (sa_exc.DataError, OverflowError)):
        # OverflowError: SQLite's driver refusing an integer beyond 64 bits
        request.logger.warning("database refused a value on %s: %s", request.url.path, exc)
        status, message, error = 422, DATA_REFUSED, "ValidationFailed"
    elif isinstance(exc, sa_exc.IntegrityError):
        request.logger.warning("database refused a row on %s: %s", request.url.path, exc)
        status, message, error = 409, GENERIC[409], "Conflict"
    else:
        return internal_error_handler(request, exc)
    if is_api(request):
        response = _json(status, "", message, error)
    else:
        response = _page(request, status, gettext(message, connection_locale(request)))
    if status == 503:
        response.headers["Retry-After"] = "5"
    return response


EXCEPTION_HANDLERS: ExceptionHandlersMap = {
    KlasterError: klaster_error_handler,
    sa_exc.SQLAlchemyError: database_error_handler,
    ConnectionError: database_error_handler,
    OSError: database_error_handler,
    OverflowError: database_error_handler,
    HTTPException: http_error_handler,
    HTTP_500_INTERNAL_SERVER_ERROR: internal_error_handler,
}
