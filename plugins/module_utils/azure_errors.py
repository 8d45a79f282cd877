# Copyright: kubedisk.aks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Turn azure-core / azure-identity exceptions into what a user needs: ARM code, message, request id."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

REQUEST_ID_HEADERS = ("x-ms-request-id", "x-ms-correlation-request-id", "x-ms-client-request-id")


def _header(response, name):
    headers = getattr(response, "headers", None) or {}
    try:
        return headers.get(name)
    except AttributeError:
        return None


def error_code(exc):
    """ARM error code of an exception (``error.code`` of the body), or None."""
    error = getattr(exc, "error", None)
    code = getattr(error, "code", None)
    if code:
        return code
    response = getattr(exc, "response", None)
    if response is not None:
        code = _header(response, "x-ms-error-code")
    return code or None


def error_details(exc):
    """A dict with code, message, status, request_id and correlation_id of an Azure SDK exception (and its
    target and Retry-After when there are)."""
    error = getattr(exc, "error", None)
    message = getattr(error, "message", None) or getattr(exc, "message", None) or str(exc)
    response = getattr(exc, "response", None)
    details = {
        "code": error_code(exc) or type(exc).__name__,
        "message": message,
        "status": getattr(exc, "status_code", None),
        "request_id": _header(response, "x-ms-request-id") if response is not None else None,
        "correlation_id": _header(response, "x-ms-correlation-request-id") if response is not None else None,
    }
    target = getattr(error, "target", None)
    if target:
        details["target"] = target
    retry_after = _header(response, "Retry-After") if response is not None else None
    if retry_after:
        details["retry_after"] = retry_after
    return details


def format_error(what, details):
    """One line: ``<what>: <code> (HTTP <status>): <message> [request id <id>]``."""
    line = "%s: %s" % (what, details["code"])
    if details.get("status"):
        line += " (HTTP %s)" % details["status"]
    line += ": %s" % details["message"]
    ids = [v for v in (details.get("request_id"), details.get("correlation_id")) if v]
    if ids:
        line += " [request id %s]" % " / correlation id ".join(ids)
    return line
