"""An OpenAPI 3.1 description of the endpoints restauth serves, for one set of options.

``restauth openapi`` prints it; ``tests/test_openapi.py`` holds it to the middleware's
answers, status by status. Only what the options turn on is described: no ``/tokens``
with ``tokens=None``, no ``/users`` without ``accounts``, no password reset without a
notifier, registration as its mode has it; the paths are the configured ones.

A userid may hold a ``/`` (a client sends ``%2F``; the server hands restauth the decoded
path), so a path that names an action or a session is also the resource of the user
whose userid is that whole rest: those operations are described too, as what they are.
Any other method is answered 405 with ``Allow``; a CORS preflight (``OPTIONS`` with
``Access-Control-Request-Method``) is answered 204.
"""

from __future__ import annotations

from typing import Any

from restauth import __version__
from restauth.options import Options

__all__ = ["openapi"]

Json = dict[str, Any]

PROBLEM = "application/problem+json"
_JSON = "application/json"
_FORM = "application/x-www-form-urlencoded"
_MAX_BODY = "16 KiB"

_ERRORS = {  # status: (the name in components.responses, what it means)
    400: (
        "BadRequest",
        "A malformed request: an unreadable body or field, a bad query flag, "
        "or a malformed `Token`/`Bearer` header (then `WWW-Authenticate: Bearer "
        'error="invalid_request"`).',
    ),
    401: ("Unauthorized", "No valid credentials: missing, wrong, unknown, expired or ended."),
    403: (
        "Forbidden",
        "Authenticated, but not allowed: another user's resource; credentials "
        "over plain HTTP with `require_https`; a cookie-mode request without the CSRF "
        "header, or cross-site.",
    ),
    404: ("NotFound", "There is no such user or session."),
    405: ("MethodNotAllowed", "This method is not served here; `Allow` lists the ones that are."),
    409: ("Conflict", "That username is taken."),
    411: (
        "LengthRequired",
        "A chunked body whose end the server does not mark: send a Content-Length.",
    ),
    413: ("ContentTooLarge", f"The body is over {_MAX_BODY}."),
    415: (
        "UnsupportedMediaType",
        "The body is not in a media type (or charset) this operation reads.",
    ),
    429: (
        "TooManyRequests",
        "Too many attempts or requests from this caller; retry after `Retry-After` seconds.",
    ),
    431: ("HeaderTooLarge", "The `Authorization` header is too large."),
    503: (
        "Unavailable",
        "A store cannot be reached (or failed); retry after `Retry-After` seconds.",
    ),
}
# Errors that a logged-in caller may get with their token headers.
_WITH_TOKEN_HEADERS = frozenset({400, 403, 404, 409, 411, 413, 415})
_BODY_ERRORS = (400, 411, 413, 415)
_B64TOKEN = r"^[A-Za-z0-9\-._~+/]+=*$"
_INSTANT = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$"


def openapi(options: Options) -> Json:
    """The OpenAPI 3.1 document for a middleware built with ``options``
    (``AuthMiddleware(...).options``)."""
    return _Document(options).build()


def _ref(kind: str, name: str) -> Json:
    return {"$ref": f"#/components/{kind}/{name}"}


def _string(description: str, **extra: Any) -> Json:
    return {"type": "string", "description": description, **extra}


def _object(properties: Json, required: list[str], *, closed: bool = True) -> Json:
    schema: Json = {"type": "object", "properties": properties, "required": required}
    if closed:
        schema["additionalProperties"] = False
    return schema


def _json_content(schema: Json) -> Json:
    return {_JSON: {"schema": schema}}


def _slug(path: str) -> str:
    words = "".join(c if c.isalnum() else " " for c in path).split()
    return "_".join(words) or "root"


class _Document:
    """The document's parts for one set of options."""

    def __init__(self, options: Options) -> None:
        self.options = options
        self.tokens = options.tokens is not None
        self.cookie = options.cookie
        self.accounts = options.accounts
        self.admin = options.admin_role is not None
        self.throttled = options.throttle is not None
        self.admin_404: tuple[int, ...] = (404,) if self.admin else ()  # only an admin learns
        self.paths: Json = {}

    # -- the whole ----------------------------------------------------------------------

    def build(self) -> Json:
        if self.tokens:
            self._session_paths()
        self._roles_path()
        if self.accounts is not None:
            self._account_paths()
        return {
            "openapi": "3.1.0",
            "info": self._info(),
            "tags": self._tags(),
            "paths": self.paths,
            "components": {
                "schemas": _Schemas(self).build(),
                "parameters": self._parameters(),
                "headers": self._headers(),
                "responses": self._responses(),
                "securitySchemes": self._security_schemes(),
            },
            "security": self.credentials(),
        }

    def _info(self) -> Json:
        options = self.options
        notes = [
            "restauth's own endpoints (WSGI authentication middleware). Refusals are RFC 9457 "
            "`application/problem+json` bodies with a generic `detail`; nothing from the "
            "request is echoed.",
            f'401 answers carry `WWW-Authenticate` challenges for realm "{options.realm}".'
            if options.challenge
            else "No answer carries `WWW-Authenticate` (`challenge=False`).",
            "A `No-Auth-Challenge` request header (any value) or a `noauthchallenge` query "
            "parameter removes `WWW-Authenticate` from every answer.",
            "Other methods on these paths are answered 405 with `Allow`; a CORS preflight "
            "(`OPTIONS` with `Access-Control-Request-Method`) is answered 204.",
        ]
        if self.tokens:
            notes.append(
                "Every answer to a logged-in caller carries their token headers "
                "(`Auth-Token`, `Auth-Token-Valid-Until`, `Auth-Token-Location`) unless said "
                "otherwise, and `Cache-Control: no-store`."
            )
        if self.cookie is not None:
            notes.append(
                f"Cookie mode: the token travels only in the `{self.cookie.name}` cookie, never "
                f"in a body or `Auth-Token`; unsafe requests authenticated by the cookie (and "
                f"`POST {options.tokens_path}`) need the `{self.cookie.csrf_header}` header; "
                "answers carry `Vary: Cookie`."
            )
        if options.cors is not None:
            notes.append(
                "CORS is on: answers to a listed origin carry `Access-Control-Allow-Origin` and "
                "expose the token headers and `Retry-After`; every answer varies on `Origin`."
            )
        return {"title": "restauth", "version": __version__, "description": "\n\n".join(notes)}

    def _tags(self) -> list[Json]:
        tags = [{"name": "roles", "description": "What the caller may do."}]
        if self.tokens:
            tags.insert(0, {"name": "sessions", "description": "Log in, list and end sessions."})
        if self.accounts is not None:
            tags += [
                {"name": "accounts", "description": "Registration, profiles, passwords."},
                {"name": "administration", "description": self._admins()},
                {
                    "name": "recovery",
                    "description": "Password reset, verification: one-time tokens.",
                },
            ]
        tags.append({"name": "preflight", "description": "CORS preflight requests."})
        return tags

    def _admins(self) -> str:
        role = self.options.admin_role
        if role is None:
            return "No admin role is set (`admin_role`): nobody may; 401 or 403."
        return f"For holders of the `{role}` role."

    # -- security -----------------------------------------------------------------------

    def _security_schemes(self) -> Json:
        options = self.options
        schemes: Json = {
            "basic": {
                "type": "http",
                "scheme": "basic",
                "description": "RFC 7617 in UTF-8 (userid and password NFC)."
                + (" A token also works as the password." if self.tokens else ""),
            }
        }
        if options.bearer_scheme:
            schemes["bearer"] = {
                "type": "http",
                "scheme": "bearer",
                "description": self._bearer_text(),
            }
        if self.tokens:
            schemes["token"] = {
                "type": "apiKey",
                "in": "header",
                "name": "Authorization",
                "description": "`Authorization: Token <token>` (Django REST Framework's scheme), "
                "with a token restauth issued.",
            }
        if self.cookie is not None:
            schemes["cookie"] = {
                "type": "apiKey",
                "in": "cookie",
                "name": self.cookie.name,
                "description": "The HttpOnly token cookie `POST "
                f"{options.tokens_path}` sets (cookie mode).",
            }
        if options.query_token is not None:
            schemes["queryToken"] = {
                "type": "apiKey",
                "in": "query",
                "name": options.query_token,
                "description": "A token in the query (for links that cannot send a header).",
            }
        return schemes

    def _bearer_text(self) -> str:
        parts = []
        if self.tokens:
            parts.append("`Authorization: Bearer <token>` (RFC 6750) with a token restauth issued")
        if self.options.bearers:
            parts.append("an identity provider's JWT (such a caller gets no restauth token)")
        return "; or ".join(parts) + "."

    def credentials(self) -> list[Json]:
        """Every way to authenticate, as alternatives."""
        return [{name: []} for name in self._security_schemes()]

    def anyone(self) -> list[Json]:
        """Anonymous callers too (an empty requirement), or any credentials."""
        return [{}, *self.credentials()]

    # -- reusable parts -----------------------------------------------------------------

    def _parameters(self) -> Json:
        parameters: Json = {
            "userid": {
                "name": "userid",
                "in": "path",
                "required": True,
                "description": "A userid, percent-encoded (UTF-8); it may hold '/' as %2F.",
                "schema": {"type": "string", "minLength": 1},
            },
            "NoAuthChallenge": {
                "name": "No-Auth-Challenge",
                "in": "header",
                "required": False,
                "description": "Any value: the answer carries no `WWW-Authenticate`, so a browser "
                "shows no login dialog.",
                "schema": {"type": "string"},
            },
            "AccessControlRequestMethod": {
                "name": "Access-Control-Request-Method",
                "in": "header",
                "required": False,
                "description": "Makes the OPTIONS request a CORS preflight (answered 204).",
                "schema": {"type": "string", "enum": ["GET", "POST", "PUT", "PATCH", "DELETE"]},
            },
        }
        if self.tokens:
            parameters |= {
                "session": {
                    "name": "session",
                    "in": "path",
                    "required": True,
                    "description": "A session's public id (as listed; never a token).",
                    "schema": {"type": "string", "minLength": 1},
                },
                "renew": _flag("renew", "A new token for the calling session (send the token)."),
                "all": _flag("all", "End every session of the user, not only this one."),
            }
        if self.cookie is not None:
            parameters["CSRF"] = {
                "name": self.cookie.csrf_header,
                "in": "header",
                "required": False,
                "description": "Any value; required when the cookie authenticates an unsafe "
                "request, and for the login (else 403).",
                "schema": {"type": "string"},
            }
        if self.accounts is not None:
            parameters |= self._page_parameters()
        return parameters

    def _page_parameters(self) -> Json:
        assert self.accounts is not None
        return {
            "limit": {
                "name": "limit",
                "in": "query",
                "required": False,
                "description": f"Users per page (default {self.accounts.page_size}).",
                "schema": {"type": "integer", "minimum": 1, "maximum": self.accounts.max_page_size},
            },
            "after": {
                "name": "after",
                "in": "query",
                "required": False,
                "description": "Start after this userid (the previous page's `next`).",
                "schema": {"type": "string"},
            },
        }

    def _headers(self) -> Json:
        headers: Json = {
            "Cache-Control": {
                "description": "`no-store`: never cached.",
                "schema": {"type": "string"},
            },
            "Retry-After": {
                "description": "Seconds to wait before trying again.",
                "required": True,
                "schema": {"type": "integer", "minimum": 0},
            },
            "Allow": {
                "description": "The methods this path serves.",
                "required": True,
                "schema": {"type": "string"},
            },
            "WWW-Authenticate": {
                "description": "The challenges (absent with `No-Auth-Challenge`).",
                "schema": {"type": "string"},
            },
        }
        if self.tokens:
            headers |= self._token_header_parts()
        if self.cookie is not None:
            headers["Set-Cookie"] = {
                "description": f"The `{self.cookie.name}` cookie: set at a login, deleted when "
                "the caller's own session ends.",
                "schema": {"type": "string"},
            }
        if self.accounts is not None:
            headers["Location"] = {
                "description": "The new user's profile.",
                "required": True,
                "schema": {"type": "string"},
            }
        return headers

    def _token_header_parts(self) -> Json:
        location = self.options.tokens_path + "/"
        headers: Json = {
            "Auth-Token-Valid-Until": {
                "description": "When the token stops working unless used (UTC, milliseconds).",
                "schema": {"type": "string", "pattern": _INSTANT},
            },
            "Auth-Token-Location": {
                "description": "The caller's sessions: `" + location + "<userid>`.",
                "schema": {"type": "string", "pattern": "^" + _escape(location)},
            },
            "Access-Control-Expose-Headers": {
                "description": "The token headers, for cross-origin scripts.",
                "schema": {"type": "string"},
            },
        }
        if self.cookie is None:
            headers["Auth-Token"] = {
                "description": "The caller's token: the one presented, or (for Basic) the "
                "user's reusable basic session's.",
                "schema": {"type": "string", "pattern": _B64TOKEN},
            }
        return headers

    def token_headers(self, *, required: bool) -> Json:
        """The token headers of an answer to a logged-in caller (none with tokens off)."""
        if not self.tokens:
            return {}
        names = ["Auth-Token-Valid-Until", "Auth-Token-Location"]
        if self.cookie is None:
            names.insert(0, "Auth-Token")
        headers = {name: self._header(name, required=required) for name in names}
        headers["Access-Control-Expose-Headers"] = _ref("headers", "Access-Control-Expose-Headers")
        headers["Cache-Control"] = _ref("headers", "Cache-Control")
        return headers

    def _header(self, name: str, *, required: bool) -> Json:
        if not required:
            return _ref("headers", name)
        return {**self._headers()[name], "required": True}

    def _responses(self) -> Json:
        return {name: self._problem(code) for code, (name, _) in _ERRORS.items()}

    def _problem(self, code: int) -> Json:
        headers: Json = {"Cache-Control": _ref("headers", "Cache-Control")}
        if code in (400, 401) and self.options.challenge:
            headers["WWW-Authenticate"] = _ref("headers", "WWW-Authenticate")
        if code in (429, 503):
            headers["Retry-After"] = _ref("headers", "Retry-After")
        if code == 405:
            headers["Allow"] = _ref("headers", "Allow")
        if code in _WITH_TOKEN_HEADERS:
            headers |= self.token_headers(required=False)
        return {
            "description": _ERRORS[code][1],
            "headers": headers,
            "content": {PROBLEM: {"schema": _ref("schemas", f"Problem{code}")}},
        }

    # -- operations ---------------------------------------------------------------------

    def add(self, path: str, method: str, operation: Json) -> None:
        item = self.paths.get(path)
        if item is None:  # the path's parameters, and its preflight
            names = [part[1:-1] for part in path.split("/") if part.startswith("{")]
            item = self.paths[path] = {}
            if names:
                item["parameters"] = [_ref("parameters", name) for name in names]
            item["options"] = self._preflight(path)
        item[method] = operation

    def _preflight(self, path: str) -> Json:
        headers: Json = {}
        if self.options.cors is None:
            headers["Allow"] = _ref("headers", "Allow")
        return {
            "operationId": "preflight_" + _slug(path),
            "tags": ["preflight"],
            "summary": "CORS preflight",
            "description": "With `Access-Control-Request-Method`: a preflight, never challenged "
            + (
                "(the CORS headers for an allowed origin)."
                if self.options.cors is not None
                else "(`Allow` lists the methods)."
            )
            + " Without it: 405.",
            "security": [{}],
            "parameters": [_ref("parameters", "AccessControlRequestMethod")],
            "responses": {
                "204": {"description": "A preflight's answer.", "headers": headers},
                "405": _ref("responses", "MethodNotAllowed"),
            },
        }

    def operation(
        self,
        name: str,
        summary: str,
        responses: Json,
        *,
        tag: str,
        description: str = "",
        errors: tuple[int, ...] = (),
        parameters: tuple[str, ...] = (),
        body: Json | None = None,
        security: list[Json] | None = None,
    ) -> Json:
        """One operation: its own answers, then the errors it may give (by status)."""
        operation: Json = {"operationId": name, "tags": [tag], "summary": summary}
        if description:
            operation["description"] = description
        listed = [_ref("parameters", p) for p in parameters]
        if 401 in errors:
            listed.append(_ref("parameters", "NoAuthChallenge"))
        if self.cookie is not None and 401 in errors:
            listed.append(_ref("parameters", "CSRF"))
        if listed:
            operation["parameters"] = listed
        if body is not None:
            operation["requestBody"] = body
        if security is not None:
            operation["security"] = security
        answers = dict(responses)
        for code in sorted(errors):
            answers[str(code)] = _ref("responses", _ERRORS[code][0])
        operation["responses"] = answers
        return operation

    def auth_errors(self, *codes: int) -> tuple[int, ...]:
        """The errors any authenticated request may get, and ``codes``."""
        throttle = (429,) if self.throttled else ()
        return tuple(sorted({400, 401, 403, 431, 503, *throttle, *codes}))

    def json_body(self, schema: str, description: str, *, required: bool = True) -> Json:
        return {
            "description": description,
            "required": required,
            "content": _json_content(_ref("schemas", schema)),
        }

    def answer(
        self, description: str, schema: str | None = None, headers: Json | None = None
    ) -> Json:
        response: Json = {"description": description}
        if headers:
            response["headers"] = headers
        if schema is not None:
            response["content"] = _json_content(_ref("schemas", schema))
        return response

    def empty(
        self, description: str, *, cookie_deleted: bool = False, token_headers: bool = False
    ) -> Json:
        headers: Json = {"Cache-Control": _ref("headers", "Cache-Control")}
        if token_headers:
            headers |= self.token_headers(required=False)
        if cookie_deleted and self.cookie is not None:
            headers["Set-Cookie"] = _ref("headers", "Set-Cookie")
        return {"description": description, "headers": headers}

    def issued(self, description: str) -> Json:
        """A new token's answer: the token headers (the cookie, in cookie mode)."""
        headers = self.token_headers(required=True)
        if self.cookie is not None:
            headers["Set-Cookie"] = self._header("Set-Cookie", required=True)
        return self.answer(description, "Grant", headers)

    # -- /tokens and /roles -------------------------------------------------------------

    def _session_paths(self) -> None:
        _SessionPaths(self).add()

    def _roles_path(self) -> None:
        roles = self.options.roles_path
        external = bool(self.options.bearers)
        headers = self.token_headers(required=not external)
        self.add(
            roles + "/{userid}",
            "get",
            self.operation(
                "getRoles",
                "The caller's roles",
                {"200": self.answer("The caller's roles.", "RolesAnswer", headers)},
                tag="roles",
                description="Only the caller's own userid; anyone else's is 403.",
                errors=self.auth_errors(),
            ),
        )

    def _account_paths(self) -> None:
        _AccountPaths(self).add()


def _flag(name: str, description: str) -> Json:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description
        + " `true`, `1`, `yes` or bare; `false`, `0`, `no` (default); anything else is 400.",
        "schema": {"type": "boolean"},
    }


def _escape(text: str) -> str:
    return "".join("\\" + c if c in r".^$*+?{}[]\|()" else c for c in text)


class _SessionPaths:
    """``POST /tokens`` and ``/tokens/{userid}[/{session}]``."""

    def __init__(self, doc: _Document) -> None:
        self.doc = doc
        self.base = doc.options.tokens_path
        self.user = self.base + "/{userid}"

    def add(self) -> None:
        doc = self.doc
        doc.add(self.base, "post", self._login())
        doc.add(self.user, "get", self._list("listSessions", "The caller's sessions"))
        doc.add(self.user, "delete", self._end_all())
        one = self.user + "/{session}"
        slashed = self._list(
            "listSessionsOfSlashedUserid", "Sessions of a userid with '/'", slashed=True
        )
        doc.add(one, "get", slashed)
        doc.add(one, "delete", self._end_one())

    def _login(self) -> Json:
        doc = self.doc
        body = {
            "description": "The credentials, as JSON or a form (UTF-8 unless a charset is "
            "given); without `username` and `password` (`{}`, or only a `client`), the "
            "`Authorization` header's credentials count.",
            "required": False,
            "content": {
                _JSON: {"schema": _ref("schemas", "Login")},
                _FORM: {"schema": _ref("schemas", "Login")},
            },
        }
        return doc.operation(
            "login",
            "Log in: a new session",
            {"200": doc.issued("A new session (with `renew=true`: a new token for this one).")},
            tag="sessions",
            description="Credentials in the body or in `Authorization` (a token: that "
            "session, described again). A wrong password is 401 without a challenge. "
            "`renew=true` with a token rotates it: the old one is dead at once.",
            errors=doc.auth_errors(411, 413, 415),
            parameters=("renew",),
            body=body,
            security=doc.anyone(),
        )

    def _list(self, name: str, summary: str, *, slashed: bool = False) -> Json:
        doc = self.doc
        what = "the userid `{userid}/{session}` (a userid may hold '/')" if slashed else "`userid`"
        description = (
            f"The sessions of {what}: the caller's own (this session, then every live one), "
            + ("or, for an admin, any user's (404 if there is none)." if doc.admin else "")
        )
        return doc.operation(
            name,
            summary,
            {"200": doc.answer("The sessions.", "SessionList", doc.token_headers(required=True))},
            tag="sessions",
            description=description,
            errors=doc.auth_errors(*doc.admin_404),
        )

    def _end_all(self) -> Json:
        doc = self.doc
        admin = " An admin may end another user's sessions (all of them; 404 if no such user)."
        return doc.operation(
            "endSessions",
            "Log out: end this session, or all",
            {"204": doc.empty("Ended (no token headers).", cookie_deleted=True)},
            tag="sessions",
            description="Ends the calling session (a Basic caller's: the basic session); "
            "`all=true`: every session of the user." + (admin if doc.admin else ""),
            errors=doc.auth_errors(*doc.admin_404),
            parameters=("all",),
        )

    def _end_one(self) -> Json:
        doc = self.doc
        return doc.operation(
            "endSession",
            "End one session",
            {"204": doc.empty("Ended.", cookie_deleted=True)},
            tag="sessions",
            description="One of the caller's sessions"
            + (" (an admin: anyone's)" if doc.admin else "")
            + "; 404 if it is not live. (If `{userid}/{session}` is itself a userid, this is "
            "`DELETE` of that user's sessions.)",
            errors=doc.auth_errors(404),
        )


class _AccountPaths:
    """``/users`` and below."""

    def __init__(self, doc: _Document) -> None:
        assert doc.accounts is not None
        self.doc = doc
        self.settings = doc.accounts
        self.base = doc.accounts.path
        self.user = self.base + "/{userid}"

    def add(self) -> None:
        doc, settings = self.doc, self.settings
        doc.add(self.base, "post", self._register())
        doc.add(self.base, "get", self._list())
        self._user_operations(self.user, "")
        password = self.user + "/password"
        doc.add(password, "put", self._change_password())
        self._user_operations(password, "the userid `{userid}/password`")
        actions = [] if settings.notifier is None else list(_RECOVERY)
        for action in actions:
            path = f"{self.base}/{action}"
            doc.add(path, "post", _Recovery(doc).operation(action))
            self._user_operations(path, f"the userid `{action}`")

    def _user_operations(self, path: str, named: str) -> None:
        suffix = "" if not named else "_" + _slug(path[len(self.base) :])
        doc = self.doc
        doc.add(path, "get", self._show(suffix, named))
        doc.add(path, "patch", self._patch(suffix, named))
        doc.add(path, "delete", self._delete(suffix, named))

    def _register(self) -> Json:
        doc, mode = self.doc, self.settings.registration
        codes = (409, 411, 413, 415) + ((429,) if self.settings.self_service else ())
        headers = {"Location": _ref("headers", "Location"), **doc.token_headers(required=False)}
        return doc.operation(
            "register",
            "Register (or, for an admin, create) a user",
            {"201": doc.answer("The new user's profile.", "Profile", headers)},
            tag="accounts",
            description=_REGISTRATION[mode]
            + " Only an admin may give `roles` (403 otherwise). A weak password or a "
            "userid restauth refuses is 400; a taken one 409.",
            errors=doc.auth_errors(*codes),
            body=doc.json_body("Registration", "The new account."),
            security=doc.anyone() if self.settings.self_service else None,
        )

    def _list(self) -> Json:
        doc = self.doc
        return doc.operation(
            "listUsers",
            "A page of users (admin)",
            {
                "200": doc.answer(
                    "A page, and where the next starts.",
                    "UserPage",
                    doc.token_headers(required=False),
                )
            },
            tag="administration",
            description="Only for holders of the admin role; `limit` out of range is 400.",
            errors=doc.auth_errors(),
            parameters=("limit", "after"),
        )

    def _show(self, suffix: str, named: str) -> Json:
        doc = self.doc
        return doc.operation(
            "getUser" + suffix,
            "A user's profile" + (f" ({named})" if named else ""),
            {"200": doc.answer("The profile.", "Profile", doc.token_headers(required=False))},
            tag="accounts",
            description="One's own"
            + (" (an admin: anyone's; 404 if there is no such user)." if doc.admin else "."),
            errors=doc.auth_errors(*doc.admin_404),
        )

    def _patch(self, suffix: str, named: str) -> Json:
        doc = self.doc
        return doc.operation(
            "updateUser" + suffix,
            "Change a user's roles, flags or email (admin)" + (f" ({named})" if named else ""),
            {"200": doc.answer("The profile.", "Profile", doc.token_headers(required=False))},
            tag="administration",
            description="A disabled (or unverified) user's sessions end.",
            errors=doc.auth_errors(*doc.admin_404, *_BODY_ERRORS),
            body=doc.json_body("UserChanges", "What changes."),
        )

    def _delete(self, suffix: str, named: str) -> Json:
        doc = self.doc
        return doc.operation(
            "deleteUser" + suffix,
            "Remove a user (admin)" + (f" ({named})" if named else ""),
            {
                "204": doc.empty(
                    "Removed; their sessions ended. (An admin who removed themselves "
                    "is logged out: no token headers.)",
                    token_headers=True,
                )
            },
            tag="administration",
            description="Only for holders of the admin role.",
            errors=doc.auth_errors(*doc.admin_404),
        )

    def _change_password(self) -> Json:
        doc = self.doc
        answers: Json = {"204": doc.empty("Changed; every session ended (a Basic caller).")}
        if doc.tokens:
            answers["200"] = doc.issued(
                "Changed; a caller who came with a token gets a new session, every other one ended."
            )
        return doc.operation(
            "changePassword",
            "Change one's own password",
            answers,
            tag="accounts",
            description="The current password is required, even with a token; a wrong one is "
            "400 and counts as a failed login.",
            errors=doc.auth_errors(*_BODY_ERRORS),
            body=doc.json_body("PasswordChange", "The current and the new password."),
        )


_REGISTRATION = {
    "off": "Registration is off: only holders of the admin role create users.",
    "admin": "Only holders of the admin role create users.",
    "open": "Anyone may register; the account works at once. Limited per client address.",
    "verify": "Anyone may register; the account works once verified: with the token sent to "
    "its email (or its userid, if an address). Limited per client address.",
}


_RECOVERY = {  # action: operationId, summary, body schema
    "password-reset": ("requestPasswordReset", "Ask for a password reset", "UsernameOnly"),
    "password-reset/confirm": ("confirmPasswordReset", "Set a new password", "ResetConfirm"),
    "verification": ("requestVerification", "Ask for a verification token", "UsernameOnly"),
    "verification/confirm": ("confirmVerification", "Verify an account", "TokenOnly"),
}
_NO_NOTIFIER = " Answered even without a notifier (no token can be asked for then)."
_ASKED = (
    "Accepted: a token is sent if the user may have one (the same answer, after the same "
    "work, whether or not the user exists)."
)


class _Recovery:
    """Password reset and verification: one-time tokens, no credentials."""

    def __init__(self, doc: _Document) -> None:
        self.doc = doc

    def operation(self, action: str) -> Json:
        name, summary, schema = _RECOVERY[action]
        doc = self.doc
        codes: tuple[int, ...]
        if action.endswith("/confirm"):
            ended = "; every session of the user ended" if action.startswith("password") else ""
            responses, codes = {"204": doc.empty(f"Done: the token is used{ended}.")}, (503,)
        else:  # limited per address (429); the limiter's store may fail (503)
            responses, codes = {"202": doc.empty(_ASKED)}, (429, 503)
        if doc.options.require_https:  # every account endpoint: plain HTTP is 403
            codes = (403, *codes)
        return doc.operation(
            name,
            summary,
            responses,
            tag="recovery",
            description="No credentials are read. A used, replaced or expired token is 400."
            + (_NO_NOTIFIER if doc.accounts is not None and doc.accounts.notifier is None else ""),
            errors=(*_BODY_ERRORS, *codes),
            body=doc.json_body(schema, "The request."),
            security=[{}],
        )


class _Schemas:
    """``components.schemas``."""

    def __init__(self, doc: _Document) -> None:
        self.doc = doc

    def build(self) -> Json:
        schemas: Json = {
            "Problem": self._problem(),
            "Instant": {"type": "string", "format": "date-time", "pattern": _INSTANT},
            "Roles": {
                "type": "array",
                "items": {"type": "string", "pattern": r"^[^\s,]+$"},
                "uniqueItems": True,
            },
            "RolesAnswer": _object(
                {"authenticated": {"const": True}, "roles": _ref("schemas", "Roles")},
                ["authenticated", "roles"],
            ),
        }
        for code in _ERRORS:
            schemas[f"Problem{code}"] = {
                "allOf": [_ref("schemas", "Problem")],
                "properties": {"status": {"const": code}},
            }
        if self.doc.tokens:
            schemas |= self._sessions()
        if self.doc.accounts is not None:
            schemas |= self._accounts()
        return schemas

    @staticmethod
    def _problem() -> Json:
        return _object(
            {
                "type": {"type": "string", "const": "about:blank"},
                "title": {"type": "string"},
                "status": {"type": "integer", "minimum": 400, "maximum": 599},
                "detail": {"type": "string"},
            },
            ["type", "title", "status", "detail"],
        )

    def _sessions(self) -> Json:
        instant = _ref("schemas", "Instant")
        grant: Json = {
            "userid": {"type": "string"},
            "roles": _ref("schemas", "Roles"),
            "session": {"type": "string"},
            "valid_until": instant,
        }
        if self.doc.cookie is None:
            grant = {"token": {"type": "string", "pattern": _B64TOKEN}, **grant}
        session = {
            "id": {"type": "string"},
            "kind": {"type": "string", "enum": ["login", "basic", "service"]},
            "client": {"type": "string"},
            "created": instant,
            "last_used": instant,
            "valid_until": instant,
            "current": {"type": "boolean"},
        }
        listing = {
            "userid": {"type": "string"},
            "session": {"type": "string", "description": "The calling session (own list only)."},
            "created": instant,
            "valid_until": instant,
            "sessions": {"type": "array", "items": _ref("schemas", "Session")},
        }
        return {
            "Login": self._login(),
            "Grant": _object(grant, list(grant)),
            "Session": _object(session, list(session)),
            "SessionList": _object(listing, ["userid", "sessions"]),
        }

    @staticmethod
    def _login() -> Json:
        return {
            "type": "object",
            "properties": {
                "username": {"type": "string", "minLength": 1},
                "password": {"type": "string"},
                "client": _string("A label for the session (default: the User-Agent)."),
            },
            "dependentRequired": {"username": ["password"], "password": ["username"]},
        }

    def _accounts(self) -> Json:
        nonempty = {"type": "string", "minLength": 1}
        email = {"type": ["string", "null"]}
        roles = _ref("schemas", "Roles")
        profile = {
            "userid": {"type": "string"},
            "roles": roles,
            "created": {"anyOf": [_ref("schemas", "Instant"), {"type": "null"}]},
            "verified": {"type": "boolean"},
            "disabled": {"type": "boolean"},
            "email": email,
        }
        changes = {
            "roles": {"type": ["array", "null"], "items": {"type": "string"}},
            "disabled": {"type": ["boolean", "null"]},
            "verified": {"type": ["boolean", "null"]},
            "email": email,
        }
        registration = {
            "username": nonempty,
            "password": nonempty,
            "email": email,
            "roles": {
                "type": "array",
                "items": {"type": "string"},
                "description": "Only an admin may give roles.",
            },
        }
        return {
            "Profile": _object(profile, list(profile)),
            "UserPage": _object(
                {
                    "users": {"type": "array", "items": _ref("schemas", "Profile")},
                    "next": {"type": ["string", "null"]},
                },
                ["users", "next"],
            ),
            "Registration": _object(registration, ["username", "password"]),
            "UserChanges": {**_object(changes, []), "minProperties": 1},
            "PasswordChange": _object(
                {"current_password": nonempty, "new_password": nonempty},
                ["current_password", "new_password"],
                closed=False,
            ),
            "UsernameOnly": _object({"username": nonempty}, ["username"], closed=False),
            "ResetConfirm": _object(
                {"token": nonempty, "new_password": nonempty},
                ["token", "new_password"],
                closed=False,
            ),
            "TokenOnly": _object({"token": nonempty}, ["token"], closed=False),
        }
