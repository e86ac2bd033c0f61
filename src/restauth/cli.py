"""The ``restauth`` command: manage users and tokens, check a configuration, serve an app.

Every command that touches a store reads the same TOML file the middleware does
(``--config FILE`` or ``$RESTAUTH_CONFIG``), so the command line and the server can
never disagree about where users live. Passwords are read with ``getpass`` (twice) or
from ``--password-stdin``, never from the command line, where ``ps`` would show them.
A user mistake is one line on stderr and exit code 1; never a traceback.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from restauth import __version__, audit
from restauth._storage import Closeable
from restauth._text import normalize
from restauth._time import parse_duration
from restauth.config.loader import Config, load_config
from restauth.errors import ConfigError, StoreUnavailable, UsageError
from restauth.passwords.hasher import SCHEMES, PasswordHasher
from restauth.passwords.policy import DEFAULT_POLICY, PasswordPolicy
from restauth.tokens.base import TokenManager
from restauth.users.base import AccountStore, User, WritableUserStore
from restauth.users.importing import FORMATS, ImportsHashes, import_users
from restauth.wire.token_headers import format_instant

# -- helpers --------------------------------------------------------------------------


_NO_TERMINAL = "no terminal to ask for the password on; use --password-stdin"


def _has_terminal() -> bool:
    """Whether standard input is a terminal, where ``getpass`` can ask without echo."""
    return sys.stdin is not None and sys.stdin.isatty()


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        # Without a terminal getpass would read stdin with a warning, then die with an
        # EOFError at its end (a script, a pipe, cron): say what to do instead.
        if not _has_terminal():
            raise UsageError(_NO_TERMINAL)
        try:
            password = getpass.getpass("Password: ")
            if getpass.getpass("Repeat password: ") != password:
                raise UsageError("passwords do not match")
        except EOFError:
            raise UsageError(_NO_TERMINAL) from None
    if not password:
        raise UsageError("empty password")
    return password


def _config(args: argparse.Namespace) -> Config:
    return load_config(args.config)


@contextmanager
def _users(args: argparse.Namespace) -> Iterator[WritableUserStore]:
    config = _config(args)
    if config.users.kind == "memory":
        raise UsageError(
            "[users] kind = memory lists its users in the configuration file: add a "
            "[[users.accounts]] entry with a hash from `restauth hash-password`"
        )
    store = config.build_users()
    if not isinstance(store, WritableUserStore):  # pragma: no cover - every kind is
        raise UsageError(f"the {config.users.kind} user store cannot be managed from here")
    try:
        yield store
    finally:
        _close(store)


@contextmanager
def _tokens(args: argparse.Namespace) -> Iterator[tuple[TokenManager, WritableUserStore]]:
    config = _config(args)
    if config.tokens.kind in ("memory", "none"):
        raise UsageError(
            f"[tokens] kind = {config.tokens.kind}: tokens live inside the server process "
            "(or are off), so there is nothing to manage from here"
        )
    jwt = config.tokens.jwt
    if jwt is not None and jwt.revocation == "memory":
        raise UsageError(
            '[tokens] kind = "jwt" with revocation = "memory": the sessions live inside the '
            'server process, so there is nothing to manage from here (use "sqlite" or "redis")'
        )
    manager = config.build_tokens()
    assert manager is not None
    try:
        with _users(args) as users:
            yield manager, users
    finally:
        _close(manager)


def _close(resource: object) -> None:
    if isinstance(resource, Closeable):
        resource.close()


def _user_error(error: Exception) -> UsageError:
    if isinstance(error, KeyError):
        return UsageError(f"no such user: {error.args[0]!r}")
    return UsageError(str(error))


# -- commands -------------------------------------------------------------------------


def _policy(args: argparse.Namespace) -> PasswordPolicy:
    """The configuration's ``[password_policy]`` when one is given (``--config`` or
    ``$RESTAUTH_CONFIG``), else the default policy."""
    import os

    from restauth.config.loader import CONFIG_ENV

    if args.config is None and not os.environ.get(CONFIG_ENV):
        return DEFAULT_POLICY
    return _config(args).policy


def _hash_password(args: argparse.Namespace) -> int:
    password = _read_password(args.password_stdin)
    try:
        _policy(args).check(password)  # no userid to compare with: length, common passwords
        print(PasswordHasher(rounds=args.rounds, scheme=args.scheme).hash(password))
    except (ValueError, ImportError) as error:  # ImportError: argon2id without its extra
        raise UsageError(str(error)) from None
    return 0


def _user_add(args: argparse.Namespace) -> int:
    with _users(args) as users:
        if args.email is not None and not isinstance(users, AccountStore):
            raise UsageError(f"{type(users).__name__} keeps no email address")
        password = _read_password(args.password_stdin)
        try:
            if args.email is not None:
                assert isinstance(users, AccountStore)
                user = users.add(args.userid, password, roles=args.role or (), email=args.email)
            else:
                user = users.add(args.userid, password, roles=args.role or ())
        except ValueError as error:
            raise _user_error(error) from None
    print(
        f"added {user.userid}"
        + (f" with roles {', '.join(sorted(user.roles))}" if user.roles else "")
    )
    return 0


def _user_passwd(args: argparse.Namespace) -> int:
    with _users(args) as users:
        userid = normalize(args.userid)
        if users.get(userid) is None:
            raise UsageError(f"no such user: {userid!r}")
        password = _read_password(args.password_stdin)
        try:
            users.set_password(userid, password)
        except (KeyError, ValueError) as error:
            raise _user_error(error) from None
    print(f"password changed for {userid}; their tokens are no longer valid")
    return 0


def _user_remove(args: argparse.Namespace) -> int:
    with _users(args) as users:
        if not users.remove(normalize(args.userid)):
            raise UsageError(f"no such user: {normalize(args.userid)!r}")
    print(f"removed {normalize(args.userid)}")
    return 0


def _user_list(args: argparse.Namespace) -> int:
    with _users(args) as users:
        for userid in users.userids():
            user = users.get(userid)
            roles = ", ".join(sorted(user.roles)) if user else ""
            flags = [] if user is None else _flags(user)
            print(f"{userid}\t{roles}" + (f"\t({', '.join(flags)})" if flags else ""))
    return 0


def _flags(user: User) -> list[str]:
    return [name for name, on in (("disabled", user.disabled), ("unverified", not user.verified))
            if on]  # fmt: skip


def _user_disable(args: argparse.Namespace) -> int:
    """``user disable``/``enable``: a disabled user's password is answered as a wrong one,
    and the new credential stamp ends every session of theirs on every node."""
    disable = args.action == "disable"
    with _users(args) as users:
        if not isinstance(users, AccountStore):
            raise UsageError(f"{type(users).__name__} cannot disable users")
        try:
            users.update(normalize(args.userid), disabled=disable)
        except KeyError:
            raise UsageError(f"no such user: {normalize(args.userid)!r}") from None
    what = "disabled; their sessions have ended" if disable else "enabled"
    print(f"{normalize(args.userid)} {what}")
    return 0


def _user_roles(args: argparse.Namespace) -> int:
    with _users(args) as users:
        userid = normalize(args.userid)
        user = users.get(userid)
        if user is None:
            raise UsageError(f"no such user: {userid!r}")
        if args.set is not None:
            roles = [role.strip() for role in args.set.split(",") if role.strip()]
            try:
                user = users.set_roles(userid, roles)
            except (KeyError, ValueError) as error:
                raise _user_error(error) from None
        print(", ".join(sorted(user.roles)))
    return 0


def _user_import(args: argparse.Namespace) -> int:
    """Users with their existing hashes; every row checked, none overwritten."""
    with _users(args) as users:
        if not isinstance(users, ImportsHashes):  # pragma: no cover - every kind can
            raise UsageError(f"the {type(users).__name__} cannot import password hashes")
        report = import_users(users, args.file, format=args.format, dry_run=args.dry_run)
    if report.problem is not None:
        raise UsageError(f"{args.file}: {report.problem}; nothing imported")
    print("\n".join(report.lines()))
    return 0 if report.ok else 1


_IMPORT_HELP = """\
Import users with the password hashes they already have, from a CSV file (a header
row: userid,hash and optionally roles,email; roles separated by spaces, ';' or a
quoted ',') or a JSON file (a list of {"userid", "hash", "roles": [...], "email"}
objects). Hashes: bcrypt ($2a$/$2b$/$2y$), Argon2, restauth's own, Django
pbkdf2_sha256; a weaker one is replaced by restauth's own at the user's first login.
A row that is not acceptable, or whose userid exists, is refused (its hash never
shown) and the others are imported; nothing is overwritten. Exit code 0 when every
row was imported (with --dry-run: would be), 1 when a row was refused or the file
could not be read (then nothing is imported)."""


def _token_list(args: argparse.Namespace) -> int:
    """One line per live session: never a token."""
    with _tokens(args) as (tokens, users):
        userids = [normalize(args.userid)] if args.userid else users.userids()
        for userid in userids:
            user = users.get(userid)
            if user is None:
                continue
            for session in tokens.sessions(userid):
                if session.stamp != user.stamp:  # ended by a password change
                    continue
                print(
                    f"{userid}\t{session.id}\t{session.kind}\t"
                    f"created {format_instant(session.created)}\t"
                    f"last used {format_instant(session.last_used)}\t"
                    f"valid until {format_instant(session.valid_until)}\t{session.client}"
                )
    return 0


def _token_revoke(args: argparse.Namespace) -> int:
    with _tokens(args) as (tokens, _users_store):
        userid = normalize(args.userid)
        if args.session is not None:
            if not tokens.end(userid, args.session):
                raise UsageError(f"{userid} has no live session {args.session!r}")
            audit.event("token.revoke", outcome="ok", userid=userid, session=args.session,
                        mechanism="cli")  # fmt: skip
            print(f"ended session {args.session} of {userid}")
            return 0
        count = tokens.revoke(userid)
    audit.event("token.revoke", outcome=f"all:{count}", userid=userid, mechanism="cli")
    print(f"ended {count} session{'s' if count != 1 else ''} of {userid}")
    return 0


def _token_create(args: argparse.Namespace) -> int:
    """A service token, printed once: the store keeps only its id."""
    try:
        lifetime = parse_duration(args.ttl, "--ttl")
    except (ValueError, TypeError) as error:
        raise UsageError(str(error)) from None
    with _tokens(args) as (tokens, users):
        userid = normalize(args.userid)
        user = users.get(userid)
        if user is None:
            raise UsageError(f"no such user: {userid!r}")
        grant = tokens.issue(
            userid, user.stamp, kind="service", client=args.label, lifetime=lifetime
        )
    audit.event("token.issue", outcome="ok", userid=userid, session=grant.session,
                mechanism="service")  # fmt: skip
    print(grant.token)
    print(
        f"service token for {userid}: session {grant.session}, valid until "
        f"{format_instant(grant.valid_until)}; it is shown only now",
        file=sys.stderr,
    )
    return 0


def _check_config(args: argparse.Namespace) -> int:
    config = load_config(args.file)
    print(json.dumps(config.describe(), indent=2, ensure_ascii=False))
    return 0


def _openapi(args: argparse.Namespace) -> int:
    """The OpenAPI 3.1 document of the endpoints a configuration serves (the defaults'
    without one); no store is opened: memory stores stand in for the configured ones."""
    import os

    from restauth.config.loader import CONFIG_ENV
    from restauth.openapi import openapi
    from restauth.options import Options
    from restauth.tokens.memory import MemoryTokenManager
    from restauth.users.memory import MemoryUserStore

    users = MemoryUserStore()
    if args.config is None and not os.environ.get(CONFIG_ENV):
        options = Options.build(users=users)
    else:
        config = _config(args)
        tokens = None if config.tokens.kind == "none" else MemoryTokenManager()
        options = config.middleware(lambda environ, start: [], users=users, tokens=tokens).options
    print(json.dumps(openapi(options), indent=2, ensure_ascii=False))
    return 0


def _serve(args: argparse.Namespace) -> int:
    from restauth.serve import load_app, run

    config = load_config(args.config)
    app = config.middleware(load_app(args.app))
    proxies = app.options.proxies
    run(app, host=args.host, port=args.port, threads=args.threads, trusted_proxies=proxies)
    return 0


def _demo(args: argparse.Namespace) -> int:
    from restauth.demo.server import serve

    serve(host=args.host, port=args.port, cookie=args.cookie, data_dir=args.data_dir)
    return 0


# -- the parser -----------------------------------------------------------------------


def _add_config(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config", metavar="FILE", help="restauth TOML file (default: $RESTAUTH_CONFIG)"
    )


def _add_password_stdin(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from standard input instead of asking twice",
    )


def _user_commands(commands: Any) -> None:
    user = commands.add_parser("user", help="manage users in the configured user store")
    actions = user.add_subparsers(dest="action", metavar="ACTION", required=True)
    add = actions.add_parser("add", help="add a user (password asked twice)")
    add.add_argument("userid")
    add.add_argument("--role", action="append", metavar="ROLE", help="a role (repeatable)")
    add.add_argument("--email", metavar="ADDRESS", help="where reset and verification mail goes")
    _add_password_stdin(add)
    add.set_defaults(handler=_user_add)
    passwd = actions.add_parser("passwd", help="change a password (kills the user's tokens)")
    passwd.add_argument("userid")
    _add_password_stdin(passwd)
    passwd.set_defaults(handler=_user_passwd)
    remove = actions.add_parser("remove", help="remove a user (kills their tokens)")
    remove.add_argument("userid")
    remove.set_defaults(handler=_user_remove)
    listing = actions.add_parser("list", help="list userids and roles (and who is disabled)")
    listing.set_defaults(handler=_user_list)
    for name, does in (("disable", "disable a user (ends their sessions)"),
                       ("enable", "let a disabled user log in again")):  # fmt: skip
        toggle = actions.add_parser(name, help=does)
        toggle.add_argument("userid")
        toggle.set_defaults(handler=_user_disable)
        _add_config(toggle)
    roles = actions.add_parser("roles", help="show a user's roles, or set them with --set")
    roles.add_argument("userid")
    roles.add_argument(
        "--set", metavar="A,B", help="replace the roles (comma-separated; '' clears)"
    )
    roles.set_defaults(handler=_user_roles)
    importing = actions.add_parser(
        "import",
        help="add users from a CSV or JSON file of existing password hashes",
        description=_IMPORT_HELP,
    )
    importing.add_argument("file", metavar="FILE")
    importing.add_argument(
        "--format", choices=FORMATS, help="the file's format (default: by its extension)"
    )
    importing.add_argument(
        "--dry-run", action="store_true", help="check every row and write nothing"
    )
    importing.set_defaults(handler=_user_import)
    for parser in (add, passwd, remove, listing, roles, importing):
        _add_config(parser)


def _token_commands(commands: Any) -> None:
    token = commands.add_parser(
        "token", help="list, end and create sessions (tokens) in the configured store"
    )
    actions = token.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="live sessions, of one user or all (never a token)")
    listing.add_argument("userid", nargs="?", help="only this user's sessions")
    listing.set_defaults(handler=_token_list)
    revoke = actions.add_parser(
        "revoke", help="end one session of a user, or all of them (log out everywhere)"
    )
    revoke.add_argument("userid")
    revoke.add_argument("session", nargs="?", help="the session id (default: every session)")
    revoke.set_defaults(handler=_token_revoke)
    create = actions.add_parser(
        "create", help="a service token for scripts (printed once, never again)"
    )
    create.add_argument("userid")
    create.add_argument("--label", default="service", help="the session's client label")
    create.add_argument(
        "--ttl", default="30d", help="its lifetime: 30d, 12h, 90m or seconds (default 30d)"
    )
    create.set_defaults(handler=_token_create)
    for parser in (listing, revoke, create):
        _add_config(parser)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="restauth", description="REST-style authentication for WSGI applications."
    )
    parser.add_argument("--version", action="version", version=f"restauth {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    _user_commands(commands)
    _token_commands(commands)

    hash_cmd = commands.add_parser(
        "hash-password", help="print a password hash (bcrypt or Argon2id; read with getpass)"
    )
    _add_password_stdin(hash_cmd)
    hash_cmd.add_argument("--rounds", type=int, default=12, help="bcrypt cost (default 12)")
    hash_cmd.add_argument(
        "--scheme", choices=SCHEMES, default="bcrypt", help="hash scheme (default bcrypt)"
    )
    hash_cmd.set_defaults(handler=_hash_password)
    _add_config(hash_cmd)  # for its [password_policy]

    check = commands.add_parser(
        "check-config", help="check a configuration file and print the effective settings"
    )
    check.add_argument("file", help="restauth TOML file")
    check.set_defaults(handler=_check_config)

    spec = commands.add_parser(
        "openapi", help="print the OpenAPI 3.1 description of restauth's endpoints (JSON)"
    )
    _add_config(spec)
    spec.set_defaults(handler=_openapi)

    serve = commands.add_parser("serve", help="serve a WSGI app behind the configured middleware")
    _add_config(serve)
    serve.add_argument(
        "--app", metavar="MODULE:CALLABLE", help="the WSGI app (default: a small whoami app)"
    )
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8080)
    serve.add_argument("--threads", type=int, default=8, help="worker threads (default 8)")
    serve.set_defaults(handler=_serve)

    demo_cmd = commands.add_parser("demo", help="run the bundled example server")
    demo_cmd.add_argument("--host", default="127.0.0.1")
    demo_cmd.add_argument("--port", type=int, default=8080)
    demo_cmd.add_argument(
        "--cookie", action="store_true", help="cookie mode: the token in an HttpOnly cookie"
    )
    demo_cmd.add_argument(
        "--data-dir", help="keep users and tokens in this directory (default: a temporary one)"
    )
    demo_cmd.set_defaults(handler=_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 1
    try:
        result: int = args.handler(args)
    except (UsageError, ConfigError) as error:
        print(f"restauth: {error}", file=sys.stderr)
        return 1
    except StoreUnavailable as error:
        print(f"restauth: store unavailable: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return result


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
