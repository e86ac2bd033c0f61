"""Example users for running an example by hand: random passwords, printed once."""

from __future__ import annotations

import secrets

from restauth import MemoryUserStore


def example_users() -> tuple[MemoryUserStore, dict[str, str]]:
    users = MemoryUserStore()
    passwords = {"alice": secrets.token_urlsafe(9), "bob": secrets.token_urlsafe(9)}
    users.add("alice", passwords["alice"], roles=["user", "admin"])
    users.add("bob", passwords["bob"], roles=["user"])
    return users, passwords
