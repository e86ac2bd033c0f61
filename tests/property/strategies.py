"""Hypothesis strategies for hostile requests.

Everything a client controls is drawn here: the ``Authorization`` value, cookies, the
query string, the path, the method, forwarding headers and the ``POST /tokens`` body.
Header values and paths are also drawn as raw bytes decoded as Latin-1, which is what
a WSGI server hands the application (PEP 3333).

Every secret a test checks for contains :data:`MARKER`, and no non-secret field (a
userid, an address) ever does, so "a secret appeared in the output" cannot be a
coincidence of two drawn strings.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from urllib.parse import quote, urlencode

from hypothesis import strategies as st

MARKER = "sEcr3t"

# Userids that exist, with passwords; awkward on purpose (a colon in a password,
# a userid with a space, a semicolon, a slash, '..' and non-ASCII text).
USERS = {
    "alice": f"pw-{MARKER}:ö 1",
    "zoë ;/..": f"{MARKER}-Zoë-päss",
}
PUBLIC = ["/health", "/static/**"]
QUERY_TOKEN = "access_token"


@dataclass
class World:
    """What is valid right now: the users' passwords and their current tokens."""

    tokens: dict[str, str] = field(default_factory=dict)

    def secrets(self) -> list[str]:
        """Strings that must never reach a log record, nor a body or header except where due."""
        found = [*USERS.values()]
        for userid, password in USERS.items():
            found.append(b64(f"{userid}:{password}"))
        for userid, token in self.tokens.items():
            found += [token, token.partition(".")[2], b64(f"{userid}:{token}")]
        return found


def b64(text: str | bytes) -> str:
    raw = text.encode("utf-8") if isinstance(text, str) else text
    return base64.b64encode(raw).decode("ascii")


def latin1(max_size: int = 64) -> st.SearchStrategy[str]:
    """Bytes off the wire as a WSGI server decodes them."""
    return st.binary(max_size=max_size).map(lambda raw: raw.decode("latin-1"))


def no_marker(strategy: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return strategy.filter(lambda text: MARKER not in text)


# Userids a client may try: the real ones, near misses, and anything at all.
userids = no_marker(
    st.one_of(
        st.sampled_from([*USERS, "ALICE", "Alice", "alice ", "ghost", "ᴮᴵᴳᴮᴵᴿᴰ", "zoe ;/.."]),
        st.text(max_size=20),
        latin1(20),
    )
)

# A guessed password always carries the marker: it must never be seen again.
guesses = st.one_of(
    st.text(max_size=30),
    st.text(alphabet="é€😀", min_size=20, max_size=40),  # multi-byte: past bcrypt's 72 bytes
    st.sampled_from(["", ":", "\x00", "\ud800", "a" * 80]),
).map(lambda text: f"{MARKER}{text}")


def mutate(text: str) -> st.SearchStrategy[str]:
    """One small edit: a character replaced, dropped or inserted, or the case flipped."""
    if not text:
        return st.just(text)
    index = st.integers(0, len(text) - 1)
    char = st.characters(codec="latin-1")
    return st.one_of(
        st.tuples(index, char).map(lambda ic: text[: ic[0]] + ic[1] + text[ic[0] + 1 :]),
        index.map(lambda i: text[:i] + text[i + 1 :]),
        st.tuples(index, char).map(lambda ic: text[: ic[0]] + ic[1] + text[ic[0] :]),
        st.just(text.swapcase()),
    )


def basic_of(userid: str, password: str | bytes) -> str:
    raw = password if isinstance(password, bytes) else password.encode("utf-8", "surrogatepass")
    return "Basic " + b64(userid.encode("utf-8", "surrogatepass") + b":" + raw)


def valid_authorizations(world: World) -> list[str]:
    values = [basic_of(u, p) for u, p in USERS.items()]
    for userid, token in world.tokens.items():
        values += [f"Token {token}", f"Bearer {token}", basic_of(userid, token)]
    return values


def authorizations(world: World) -> st.SearchStrategy[str | None]:
    """Valid values, near misses of them, and garbage in every shape the parser meets."""
    valid = valid_authorizations(world)
    tokens = list(world.tokens.values()) or ["none.none"]
    scheme = st.sampled_from(["Basic", "basic", "BASIC", "Bearer", "Token", "bearer", "Digest"])
    near_misses = st.one_of(  # the right user, almost the right password or token
        st.sampled_from(list(USERS.items())),
        st.sampled_from(list(world.tokens.items())),
    ).flatmap(
        lambda pair: st.tuples(
            st.just(pair[0]),
            st.one_of(
                mutate(pair[1]),
                st.just(pair[1] + "x" * 80),  # a shared prefix past bcrypt's 72 bytes
                st.just(pair[1][:-1]),
                st.just(pair[1] + "\x00"),
            ),
        )
    )
    single = st.one_of(
        st.sampled_from(valid),
        st.sampled_from(valid).flatmap(mutate),
        near_misses.map(lambda pair: basic_of(*pair)),
        st.builds(basic_of, userids, guesses),
        st.builds(basic_of, userids, st.sampled_from(tokens).flatmap(mutate)),
        st.builds(basic_of, st.sampled_from(list(USERS)), st.binary(max_size=80)),
        st.builds(lambda raw: "Basic " + b64(raw), st.binary(max_size=40)),
        st.builds(lambda s, t: f"{s} {t}", scheme, st.sampled_from(tokens).flatmap(mutate)),
        st.builds(lambda s, t: f"{s} {t}", scheme, latin1(40)),
        st.builds(lambda s, t: f"{s}{t}", scheme, st.text(" \t=,.:", max_size=4)),
        latin1(80),
        st.text(max_size=40),
    )
    joined = st.lists(single, min_size=2, max_size=3).map(",".join)  # wsgiref joins duplicates
    huge = st.builds(lambda s, n: f"{s} " + "A" * n, scheme, st.integers(8100, 9000))
    return st.one_of(st.none(), single, joined, huge)


def cookies(world: World) -> st.SearchStrategy[str | None]:
    tokens = list(world.tokens.values()) or ["none.none"]
    value = st.one_of(st.sampled_from(tokens), st.sampled_from(tokens).flatmap(mutate), latin1(30))
    pair = st.builds(
        lambda name, v: f"{name}={v}",
        st.sampled_from(["__Host-restauth", "restauth", "__host-restauth", "other"]),
        st.one_of(value, value.map(lambda v: f'"{v}"')),
    )
    return st.one_of(st.none(), st.lists(pair, max_size=3).map("; ".join), latin1(60))


def queries(world: World) -> st.SearchStrategy[str]:
    tokens = list(world.tokens.values()) or ["none.none"]
    token = st.one_of(st.sampled_from(tokens), st.sampled_from(tokens).flatmap(mutate))
    name = st.sampled_from([QUERY_TOKEN, "noauthchallenge", "token", "x", QUERY_TOKEN.upper()])
    pairs = st.lists(st.tuples(name, st.one_of(token, st.text(max_size=10))), max_size=3)
    return st.one_of(
        st.just(""),
        pairs.map(urlencode),
        latin1(40),
        st.builds(lambda t: f"{QUERY_TOKEN}={t}&{QUERY_TOKEN}={t}", token),
    )


_SEGMENTS = [
    "tokens",
    "roles",
    "health",
    "static",
    "alice",
    "bob",
    "ALICE",
    quote("zoë ;/..", safe=""),
    "zoë ;/..".encode().decode("latin-1"),  # what PATH_INFO holds for that userid
    "..",
    ".",
    "",
    ";",
    ";x=1",
    "%2F",
    "%2e%2e",
    "a%00b",
    "\\",
]


def paths() -> st.SearchStrategy[str]:
    """Paths near the interesting ones, with the separators routers disagree about."""
    segments = st.one_of(st.sampled_from(_SEGMENTS), latin1(8).filter(lambda s: "/" not in s))
    built = st.lists(segments, min_size=1, max_size=4).map(lambda parts: "/" + "/".join(parts))
    fixed = st.sampled_from(["/", "/tokens", "/tokens/alice", "/roles/alice", "/health", "/app"])
    return st.one_of(fixed, built, latin1(30))


methods = st.one_of(
    st.sampled_from(["GET", "GET", "POST", "DELETE", "PUT", "HEAD", "OPTIONS", "PATCH"]),
    st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=1, max_size=8),
)

addresses = st.one_of(
    st.sampled_from(["203.0.113.7", "198.51.100.1", "10.0.0.1", "::1", "", "unknown"]),
    st.ip_addresses().map(str),
)


def login_bodies(world: World) -> st.SearchStrategy[tuple[str, bytes]]:
    """``(Content-Type, body)`` for ``POST /tokens``: JSON, forms and garbage."""
    real = st.sampled_from(list(USERS.values()))
    passwords = st.one_of(real, real.flatmap(mutate), guesses)
    fields: st.SearchStrategy[dict[str, object]] = st.fixed_dictionaries(
        {},
        optional={
            "username": st.one_of(userids, st.integers(), st.none(), st.lists(st.just("a"))),
            "password": st.one_of(passwords, st.integers(), st.none()),
            "extra": st.text(max_size=5),
        },
    )
    as_json = fields.map(lambda data: ("application/json", json.dumps(data).encode()))
    as_form = st.builds(
        lambda u, p: (
            "application/x-www-form-urlencoded",
            urlencode(
                {"username": u, "password": p}, encoding="utf-8", errors="surrogatepass"
            ).encode("latin-1", "replace"),
        ),
        userids,
        passwords,
    )
    content_type = st.sampled_from(
        ["application/json", "application/x-www-form-urlencoded", "text/plain", "", "a/b+json"]
    )
    garbage = st.tuples(content_type, st.binary(max_size=200))
    nested = st.integers(1, 3000).map(lambda n: ("application/json", b"[" * n + b"]" * n))
    return st.one_of(as_json, as_form, garbage, nested)


@dataclass(frozen=True)
class HostileRequest:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    content_type: str | None
    body: bytes
    content_length: str | None
    scheme: str
    remote_addr: str

    def environ(self) -> dict[str, object]:
        import io

        environ: dict[str, object] = {
            "REQUEST_METHOD": self.method,
            "SCRIPT_NAME": "",
            "PATH_INFO": self.path,
            "QUERY_STRING": self.query,
            "SERVER_NAME": "api.example",
            "SERVER_PORT": "443",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": self.remote_addr,
            "wsgi.url_scheme": self.scheme,
            "wsgi.input": io.BytesIO(self.body),
            "wsgi.errors": io.StringIO(),
            "wsgi.version": (1, 0),
            "wsgi.multithread": False,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
        }
        if self.content_type is not None:
            environ["CONTENT_TYPE"] = self.content_type
        if self.content_length is not None:
            environ["CONTENT_LENGTH"] = self.content_length
        for name, value in self.headers.items():
            environ["HTTP_" + name.upper().replace("-", "_")] = value
        return environ


ALLOWED_ORIGIN = "https://app.example.com"
ORIGINS = [ALLOWED_ORIGIN, "https://app.example.com.evil.net", "null", "HTTPS://APP.EXAMPLE.COM"]


@st.composite
def requests(draw: st.DrawFn, world: World) -> HostileRequest:
    """A whole request; about one in three is a ``POST /tokens`` login attempt."""
    headers: dict[str, str] = {}
    for name, strategy in (
        ("Authorization", authorizations(world)),
        ("Cookie", cookies(world)),
        ("X-Forwarded-For", st.one_of(st.none(), addresses, no_marker(latin1(30)))),
        ("Access-Control-Request-Method", st.one_of(st.none(), st.just("GET"))),
        ("Origin", st.one_of(st.none(), st.sampled_from(ORIGINS), no_marker(latin1(30)))),
        ("X-Forwarded-Proto", st.one_of(st.none(), st.sampled_from(["https", "http", "HTTPS"]))),
        ("X-Requested-With", st.one_of(st.none(), st.just("fetch"))),
        ("No-Auth-Challenge", st.one_of(st.none(), st.just(""))),
    ):
        value = draw(strategy)
        if value is not None:
            headers[name] = value
    login = draw(st.booleans()) and draw(st.booleans())
    if login:
        method, path = "POST", "/tokens"
        content_type, body = draw(login_bodies(world))
    else:
        method, path = draw(methods), draw(paths())
        content_type, body = draw(st.one_of(st.none(), st.just("application/json"))), b""
    length = str(len(body)) if body else None
    length = draw(
        st.one_of(
            st.just(length),
            st.sampled_from(["", "0", "-1", "abc", "99999999", "1e3", " 7"]),
            st.integers(0, 2 * len(body) + 10).map(str),  # shorter or longer than the body
        )
    )
    return HostileRequest(
        method=method,
        path=path,
        query=draw(queries(world)),
        headers=headers,
        content_type=content_type,
        body=body,
        content_length=length,
        scheme=draw(st.sampled_from(["https", "https", "https", "http"])),
        remote_addr=draw(addresses),
    )
