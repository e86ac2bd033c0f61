"""The ``restauth`` command."""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Sequence

from restauth import __version__
from restauth.passwords import PasswordHasher


class UsageError(Exception):
    """A user mistake: printed as one line, exit code 1, no traceback."""


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = getpass.getpass("Password: ")
        if getpass.getpass("Repeat password: ") != password:
            raise UsageError("passwords do not match")
    if not password:
        raise UsageError("empty password")
    return password


def _hash_password(args: argparse.Namespace) -> int:
    password = _read_password(args.password_stdin)
    try:
        print(PasswordHasher(rounds=args.rounds).hash(password))
    except ValueError as error:
        raise UsageError(str(error)) from None
    return 0


def _demo(args: argparse.Namespace) -> int:
    from restauth.demo.server import serve

    serve(host=args.host, port=args.port, cookie=args.cookie, data_dir=args.data_dir)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="restauth", description="REST-style authentication for WSGI applications."
    )
    parser.add_argument("--version", action="version", version=f"restauth {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    hash_cmd = commands.add_parser(
        "hash-password", help="print a bcrypt hash of a password (read with getpass)"
    )
    hash_cmd.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input"
    )
    hash_cmd.add_argument("--rounds", type=int, default=12, help="bcrypt cost (default 12)")
    hash_cmd.set_defaults(handler=_hash_password)

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
    except UsageError as error:
        print(f"restauth: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return result


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
