"""``tidewatch-admin``: first admin, users, passwords and VPS records from a shell.

    tidewatch-admin bootstrap                  # the first admin, with a random password
    tidewatch-admin create-user NAME --role R  # password from the prompt, or one line of stdin
    tidewatch-admin set-password NAME          # likewise; revokes the user's sessions
    tidewatch-admin create-vps NAME [--ip IP]  # prints only the agent token on stdout
    tidewatch-admin set-retention RELATION KEEP  # e.g. host_metrics '14 days'; applied at once

``create-vps`` also prints the agent's start command (on stderr), built from the
``TIDEWATCH_INSTALL_*`` settings like the API's and the dashboards'.

Talks to the database directly (``TIDEWATCH_DSN``, else the local one), so it
works before the API runs. Every change is audited as actor ``tidewatch-admin``.
"""

from __future__ import annotations

import argparse
import getpass
import logging
import os
import secrets
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
import psycopg
from psycopg.rows import DictRow, dict_row
from psycopg.types.json import Jsonb

from common.api_models import Password, Role, Username
from common.auth_changes import NOTIFY_AUTH_CHANGE, auth_change_payload
from common.install import install_command
from common.records import (
    INSERT_AUDIT,
    INSERT_USER,
    INSERT_VPS,
    AuditAction,
    audit_params,
    new_agent_token,
)
from common.settings import INSTALL_PREFIX, InstallSettings, SettingsError, load_settings, resolve_dsn
from common.tokens import hash_password

__all__ = [
    "AdminError",
    "Bootstrapped",
    "bootstrap",
    "create_user",
    "create_vps",
    "main",
    "set_password",
    "set_retention",
]

log = logging.getLogger("tidewatch.admin")

ACTOR = "tidewatch-admin"
BOOTSTRAP_USERNAME = "admin"
BOOTSTRAP_LOCK_ID = 0x7477_6164  # "twad": one bootstrap at a time
Connection = psycopg.Connection[DictRow]


class AdminError(Exception):
    """A refusal with a message for the operator (exit status 1)."""


def state_dir() -> Path:
    """Where local secrets go: ``$TIDEWATCH_STATE``, default /var/lib/tidewatch-dev."""
    return Path(os.environ.get("TIDEWATCH_STATE", "/var/lib/tidewatch-dev"))


def _audit(conn: Connection, action: AuditAction, target: str, detail: dict[str, Any] | None = None) -> None:
    conn.execute(
        INSERT_AUDIT, audit_params(user_id=None, actor=ACTOR, action=action, target=target, detail=detail)
    )


def _checked(value: str, kind: Any, what: str) -> str:
    try:
        return str(msgspec.convert(value, kind))
    except msgspec.ValidationError as exc:
        raise AdminError(f"invalid {what}: {exc}") from None


def _write_secret(path: Path, content: str) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        os.fchmod(handle.fileno(), 0o600)  # an older file may have looser bits
        handle.write(content + "\n")


@dataclass(frozen=True, slots=True)
class Bootstrapped:
    """The first admin's password, and where it was saved (or why it was not)."""

    password: str
    saved_to: Path | None
    save_error: str = ""


def bootstrap(conn: Connection, secret_path: Path) -> Bootstrapped | None:
    """Create ``admin`` with a random password unless an enabled admin exists.

    Returns None when there was nothing to do. The password is also written to
    ``secret_path`` (mode 0600); where that is impossible (a read-only
    container), the admin is still created and the caller shows the password.
    """
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (BOOTSTRAP_LOCK_ID,))
        if conn.execute("SELECT 1 FROM users WHERE role = 'admin' AND NOT disabled").fetchone():
            return None
        if conn.execute("SELECT 1 FROM users WHERE username = %s", (BOOTSTRAP_USERNAME,)).fetchone():
            raise AdminError(
                f"a user named {BOOTSTRAP_USERNAME!r} exists but is not an enabled admin; "
                "create an admin with: tidewatch-admin create-user NAME --role admin"
            )
        password = secrets.token_urlsafe(18)
        user = conn.execute(
            INSERT_USER,
            {
                "username": BOOTSTRAP_USERNAME,
                "password_hash": hash_password(password),
                "role": Role.ADMIN.value,
            },
        ).fetchone()
        assert user is not None
        _audit(conn, AuditAction.USER_BOOTSTRAP, f"user:{user['id']}")
        try:
            _write_secret(secret_path, password)
        except OSError as exc:
            return Bootstrapped(password, None, f"{exc.strerror or exc} ({secret_path})")
    return Bootstrapped(password, secret_path)


def create_user(conn: Connection, username: str, role: Role, password: str) -> int:
    """Create a user; returns the id."""
    username = _checked(username, Username, "username")
    password = _checked(password, Password, "password")
    try:
        with conn.transaction():
            user = conn.execute(
                INSERT_USER,
                {"username": username, "password_hash": hash_password(password), "role": role.value},
            ).fetchone()
            assert user is not None
            _audit(
                conn,
                AuditAction.USER_CREATE,
                f"user:{user['id']}",
                {"username": username, "role": role.value},
            )
    except psycopg.errors.UniqueViolation:
        raise AdminError(f"username {username!r} is taken") from None
    return int(user["id"])


def set_password(conn: Connection, username: str, password: str) -> None:
    """Replace a user's password and revoke their sessions."""
    password = _checked(password, Password, "password")
    with conn.transaction():
        row = conn.execute(
            "UPDATE users SET password_hash = %s WHERE username = %s RETURNING id",
            (hash_password(password), username),
        ).fetchone()
        if row is None:
            raise AdminError(f"no user named {username!r}")
        conn.execute("DELETE FROM api_tokens WHERE user_id = %s", (row["id"],))
        # Running API instances re-check that user's cached tokens once this commits.
        conn.execute(NOTIFY_AUTH_CHANGE, (auth_change_payload(user_id=row["id"]),))
        _audit(conn, AuditAction.USER_SET_PASSWORD, f"user:{row['id']}")


def create_vps(conn: Connection, name: str, ip_address: str = "") -> tuple[int, str]:
    """Create a VPS record; returns its id and agent token (shown once)."""
    issued = new_agent_token()
    try:
        with conn.transaction():
            row = conn.execute(
                INSERT_VPS,
                {
                    "name": name,
                    "ip_address": ip_address,
                    "labels": Jsonb({}),
                    "agent_key_id": issued.key_id,
                    "agent_token_hash": issued.token_hash,
                    "created_by": None,
                },
            ).fetchone()
            assert row is not None
            _audit(conn, AuditAction.VPS_CREATE, f"vps:{row['id']}", {"name": name, "ip_address": ip_address})
    except psycopg.errors.UniqueViolation:
        raise AdminError(f"a VPS named {name!r} already exists") from None
    except psycopg.errors.CheckViolation as exc:
        raise AdminError(f"invalid VPS name {name!r}: {exc.diag.message_primary}") from None
    return int(row["id"]), issued.token


def set_retention(conn: Connection, relation: str, keep: str) -> int:
    """Keep ``relation`` (a raw table or rollup in ``retention_settings``) for ``keep``
    and apply it now, on either edition (the Community edition's policy is replaced).
    Returns the chunks dropped."""
    try:
        with conn.transaction():
            row = conn.execute(
                "UPDATE retention_settings new SET keep = %s::interval FROM retention_settings old"
                " WHERE new.relation = %s AND old.relation = new.relation"
                " RETURNING old.keep::text AS old_keep, new.keep::text AS new_keep",
                (keep, relation),
            ).fetchone()
            if row is None:
                known = [
                    r["relation"] for r in conn.execute("SELECT relation FROM retention_settings ORDER BY 1")
                ]
                raise AdminError(f"no retention setting for {relation!r}; one of: {', '.join(known)}")
            skipped: list[str] = []

            def note(notice: psycopg.errors.Diagnostic) -> None:
                skipped.append(notice.message_primary or "")

            conn.add_notice_handler(note)
            try:
                dropped_row = conn.execute("SELECT tw_apply_retention() AS dropped").fetchone()
            finally:
                conn.remove_notice_handler(note)
            if any(m.startswith(f"retention of {relation} ") for m in skipped):
                raise AdminError(f"{relation} is busy with a TimescaleDB job; nothing changed, try again")
            dropped = int(dropped_row["dropped"]) if dropped_row else 0
            _audit(
                conn,
                AuditAction.RETENTION_SET,
                f"retention:{relation}",
                {"from": row["old_keep"], "to": row["new_keep"], "chunks_dropped": dropped},
            )
    except psycopg.errors.CheckViolation:
        raise AdminError("retention must be at least 1 hour") from None
    except (psycopg.errors.InvalidDatetimeFormat, psycopg.errors.DatetimeFieldOverflow):
        raise AdminError(f"{keep!r} is not an interval (e.g. '14 days')") from None
    return dropped


def _read_password() -> str:
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Again: ") != first:
        raise AdminError("the passwords differ")
    return first


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tidewatch-admin", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("bootstrap", help="create the first admin with a random password")
    user = commands.add_parser("create-user", help="create a user (password from prompt or stdin)")
    user.add_argument("username")
    user.add_argument("--role", choices=[r.value for r in Role], default=Role.VIEWER.value)
    password = commands.add_parser("set-password", help="set a password (from prompt or stdin)")
    password.add_argument("username")
    vps = commands.add_parser("create-vps", help="create a VPS and print its agent token")
    vps.add_argument("name")
    vps.add_argument("--ip", default="", help="its IP address or host name")
    retention = commands.add_parser(
        "set-retention", help="how long to keep a table or rollup; applied at once"
    )
    retention.add_argument("relation", help="e.g. host_metrics, host_metrics_1m")
    retention.add_argument("keep", help="an interval of at least 1 hour, e.g. '14 days'")
    return parser


def _run(args: argparse.Namespace, conn: Connection) -> None:
    if args.command == "bootstrap":
        created = bootstrap(conn, state_dir() / "admin-password")
        if created is None:
            print("admin already exists; nothing to do")
            return
        print("Created the first Tidewatch admin.")
        print(f"  username: {BOOTSTRAP_USERNAME}")
        print(f"  password: {created.password}")
        if created.saved_to is not None:
            print(f"  (also saved to {created.saved_to}, mode 0600; change it after your first login)")
        else:
            print(
                f"tidewatch-admin: could not save the password: {created.save_error}; note it now",
                file=sys.stderr,
            )
    elif args.command == "create-user":
        user_id = create_user(conn, args.username, Role(args.role), _read_password())
        print(f"created {args.role} {args.username} (id {user_id})")
    elif args.command == "set-password":
        set_password(conn, args.username, _read_password())
        print(f"password of {args.username} changed; their sessions are revoked")
    elif args.command == "create-vps":
        install = load_settings(InstallSettings, INSTALL_PREFIX)  # before creating: a typo creates nothing
        vps_id, token = create_vps(conn, args.name, args.ip)
        print(f"created VPS {args.name} (id {vps_id}); its agent token follows, shown once", file=sys.stderr)
        print(f"start its agent with: {install_command(install, token)}", file=sys.stderr)
        print(token)
    elif args.command == "set-retention":
        dropped = set_retention(conn, args.relation, args.keep)
        print(f"{args.relation} is now kept for {args.keep}; {dropped} old chunks dropped")


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``tidewatch-admin``."""
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        with psycopg.connect(resolve_dsn(), autocommit=True, row_factory=dict_row) as conn:
            _run(args, conn)
    except SettingsError as exc:
        print(f"tidewatch-admin: {exc}", file=sys.stderr)
        return 2
    except AdminError as exc:
        print(f"tidewatch-admin: {exc}", file=sys.stderr)
        return 1
    except psycopg.OperationalError as exc:
        print(f"tidewatch-admin: cannot reach the database: {str(exc).strip()}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
