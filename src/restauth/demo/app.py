"""The demo's protected application: notes per user and an admin-only listing.

It knows nothing about passwords or tokens; it reads ``environ["restauth.identity"]``,
which the middleware put there. The page at ``/``, its files and ``/favicon.ico`` are public.
"""

from __future__ import annotations

import json
import threading
from importlib import resources
from typing import TYPE_CHECKING, Any

from webob import Request, Response

from restauth.identity import Identity
from restauth.users.base import WritableUserStore

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

STATIC_TYPES = {
    "index.html": "text/html; charset=utf-8",
    "app.js": "text/javascript; charset=utf-8",
    "style.css": "text/css; charset=utf-8",
}
MAX_NOTE_LENGTH = 500


class NotesApp:
    """A tiny REST API: ``GET|POST /api/notes`` (own notes), ``GET /api/admin/users`` (admins)."""

    def __init__(self, users: WritableUserStore) -> None:
        self.users = users
        self._notes: dict[str, list[str]] = {}
        self._lock = threading.Lock()

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Any:
        request = Request(environ)
        response = self.route(request, environ.get("restauth.identity"))
        return response(environ, start_response)

    def route(self, request: Request, identity: Identity | None) -> Response:
        path = request.path_info
        if path in ("/", "/index.html"):
            return _static("index.html")
        if path.startswith("/static/") and path[len("/static/") :] in STATIC_TYPES:
            return _static(path[len("/static/") :])
        if path == "/health":
            return _json({"status": "ok"})
        if path == "/favicon.ico":  # public: browsers ask on every page load
            return _no_icon()
        if identity is None:  # only public paths reach here anonymously
            return _json({"error": "not found"}, 404)
        if path == "/api/notes":
            return self.notes(request, identity)
        if path == "/api/admin/users":
            return self.admin_listing(identity)
        return _json({"error": "not found"}, 404)

    def notes(self, request: Request, identity: Identity) -> Response:
        if request.method == "GET":
            with self._lock:
                return _json({"notes": list(self._notes.get(identity.userid, []))})
        if request.method != "POST":
            response = _json({"error": "method not allowed"}, 405)
            response.allow = ("GET", "POST")
            return response
        try:
            text = json.loads(request.body.decode("utf-8"))["text"]
        except (ValueError, KeyError, TypeError):
            return _json({"error": 'send JSON {"text": ...}'}, 400)
        if not isinstance(text, str) or not text.strip() or len(text) > MAX_NOTE_LENGTH:
            return _json({"error": f"a note is 1 to {MAX_NOTE_LENGTH} characters"}, 400)
        with self._lock:
            self._notes.setdefault(identity.userid, []).append(text.strip())
            notes = list(self._notes[identity.userid])
        return _json({"notes": notes}, 201)

    def admin_listing(self, identity: Identity) -> Response:
        if "admin" not in identity.roles:
            return _json({"error": "administrators only"}, 403)
        listing = []
        for userid in self.users.userids():
            user = self.users.get(userid)
            if user is not None:
                with self._lock:
                    count = len(self._notes.get(userid, []))
                listing.append({"userid": userid, "roles": sorted(user.roles), "notes": count})
        return _json({"users": listing})


def _json(data: object, status: int = 200) -> Response:
    return Response(
        body=json.dumps(data).encode("utf-8"),
        status=status,
        content_type="application/json",
    )


def _no_icon() -> Response:
    """No icon, said once a day: the browser neither retries nor logs an error."""
    response = Response(status=204)
    response.cache_control.max_age = 86400
    return response


def _static(name: str) -> Response:
    body = resources.files("restauth.demo").joinpath("static", name).read_bytes()
    response = Response(body=body, content_type=STATIC_TYPES[name].split(";")[0], charset="utf-8")
    response.headers["X-Content-Type-Options"] = "nosniff"
    if name == "index.html":
        response.headers["Content-Security-Policy"] = (
            "default-src 'self'; script-src 'self'; style-src 'self'; frame-ancestors 'none'"
        )
    return response
