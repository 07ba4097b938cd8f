"""Staff accounts, sessions, API tokens and login throttling, stored in SQLite.

Passwords are hashed with argon2 (argon2-cffi's PasswordHasher, the maintained binding of the
Password Hashing Competition winner). Session ids and API tokens are random and stored only as
SHA-256 hashes, so a leaked database does not leak usable credentials.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from .errors import AuthError, ThrottledError, ValidationError
from .store import Store

SESSION_HOURS = 12
MAX_FAILURES = 5
FAILURE_WINDOW_SECONDS = 15 * 60
MIN_PASSWORD_LENGTH = 10
TOKEN_PREFIX = "kk_"

_hasher = PasswordHasher()


@dataclass
class User:
    id: int
    username: str
    display_name: str
    active: bool


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _user(row) -> User:
    return User(id=row["id"], username=row["username"], display_name=row["display_name"] or row["username"],
                active=bool(row["active"]))


class Accounts:
    def __init__(self, store: Store | Callable[[], Store]):
        # A Store, or a function giving the calling thread's Store (KnowledgeBase.store): the
        # web app builds one Accounts and uses it from many threads, and an sqlite3 connection
        # belongs to one thread.
        self._store = store if callable(store) else (lambda: store)

    @property
    def store(self) -> Store:
        return self._store()

    @property
    def db(self):
        return self.store.db

    # -- users -----------------------------------------------------------------------------
    def add_user(self, username: str, password: str, display_name: str | None = None) -> User:
        username = username.strip().lower()
        if not username or not username.replace(".", "").replace("-", "").replace("_", "").isalnum():
            raise ValidationError("username", "Användarnamnet får bara innehålla bokstäver, siffror, punkt och bindestreck.")
        self._check_password(password)
        if self.find(username):
            raise ValidationError("username", f"Användaren '{username}' finns redan.")
        now = _now().isoformat(timespec="seconds")
        with self.store.transaction():
            self.db["users"].insert({"username": username, "display_name": display_name or username,
                                     "password_hash": _hasher.hash(password), "active": 1,
                                     "created_at": now, "updated_at": now})
        return self.find(username)

    @staticmethod
    def _check_password(password: str) -> None:
        if len(password) < MIN_PASSWORD_LENGTH:
            raise ValidationError("password", f"Lösenordet måste ha minst {MIN_PASSWORD_LENGTH} tecken.")

    def find(self, username: str) -> User | None:
        rows = list(self.db.query("SELECT * FROM users WHERE username = ?", [username.strip().lower()]))
        return _user(rows[0]) if rows else None

    def list_users(self) -> list[User]:
        return [_user(r) for r in self.db.query("SELECT * FROM users ORDER BY username")]

    def set_active(self, username: str, active: bool) -> None:
        user = self._require(username)
        with self.store.transaction():
            self.db.execute("UPDATE users SET active = ?, updated_at = ? WHERE id = ?",
                            [int(active), _now().isoformat(timespec="seconds"), user.id])
            if not active:
                self.db.execute("DELETE FROM sessions WHERE user_id = ?", [user.id])
                self.db.execute("UPDATE api_tokens SET revoked = 1 WHERE user_id = ?", [user.id])

    def reset_password(self, username: str, password: str) -> None:
        user = self._require(username)
        self._check_password(password)
        with self.store.transaction():
            self.db.execute("UPDATE users SET password_hash = ?, updated_at = ? WHERE id = ?",
                            [_hasher.hash(password), _now().isoformat(timespec="seconds"), user.id])
            self.db.execute("DELETE FROM sessions WHERE user_id = ?", [user.id])

    def _require(self, username: str) -> User:
        user = self.find(username)
        if user is None:
            raise ValidationError("username", f"Användaren '{username}' finns inte.")
        return user

    # -- login -----------------------------------------------------------------------------
    def _failures(self, key: str) -> int:
        since = time.time() - FAILURE_WINDOW_SECONDS
        return self.db.execute("SELECT count(*) FROM login_attempts WHERE key = ? AND at > ?", [key, since]).fetchone()[0]

    def authenticate(self, username: str, password: str, client: str = "") -> User:
        """Check a password; throttled per user name and per client after repeated failures."""
        username = (username or "").strip().lower()[:100]
        keys = [f"user:{username}", f"client:{client}"]
        if any(self._failures(k) >= MAX_FAILURES for k in keys):
            raise ThrottledError("För många misslyckade inloggningar. Vänta en stund och försök igen.")
        rows = list(self.db.query("SELECT * FROM users WHERE username = ?", [username]))
        ok = False
        if rows:
            try:
                ok = _hasher.verify(rows[0]["password_hash"], password or "")
            except (VerifyMismatchError, VerificationError, InvalidHashError):
                ok = False
        else:
            _hasher.hash(password or "x")   # same cost whether or not the user exists
        if not ok or not rows[0]["active"]:
            with self.store.transaction():
                for key in keys:
                    self.db["login_attempts"].insert({"key": key, "at": time.time()})
            raise AuthError("Fel användarnamn eller lösenord.")
        with self.store.transaction():
            self.db.execute("DELETE FROM login_attempts WHERE key = ?", [keys[0]])
        return _user(rows[0])

    # -- sessions --------------------------------------------------------------------------
    def create_session(self, user: User) -> tuple[str, str]:
        """(session token for the cookie, CSRF token for forms)."""
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        now = _now()
        with self.store.transaction():
            self.db.execute("DELETE FROM sessions WHERE expires_at < ?", [now.isoformat()])
            self.db["sessions"].insert({
                "token_hash": _hash_token(token), "user_id": user.id, "csrf_token": csrf,
                "created_at": now.isoformat(), "expires_at": (now + dt.timedelta(hours=SESSION_HOURS)).isoformat(),
            })
        return token, csrf

    def session(self, token: str | None) -> tuple[User, str] | None:
        if not token:
            return None
        rows = list(self.db.query(
            "SELECT u.*, s.csrf_token, s.expires_at FROM sessions s JOIN users u ON u.id = s.user_id "
            "WHERE s.token_hash = ?", [_hash_token(token)]))
        if not rows or not rows[0]["active"] or rows[0]["expires_at"] < _now().isoformat():
            return None
        return _user(rows[0]), rows[0]["csrf_token"]

    def end_session(self, token: str | None) -> None:
        if token:
            with self.store.transaction():
                self.db.execute("DELETE FROM sessions WHERE token_hash = ?", [_hash_token(token)])

    # -- API tokens ------------------------------------------------------------------------
    def create_token(self, username: str, name: str) -> str:
        user = self._require(username)
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        with self.store.transaction():
            self.db["api_tokens"].insert({"token_hash": _hash_token(token), "name": name, "user_id": user.id,
                                          "created_at": _now().isoformat(timespec="seconds"), "revoked": 0})
        return token

    def list_tokens(self) -> list[dict]:
        return list(self.db.query(
            "SELECT t.id, t.name, u.username, t.created_at, t.last_used_at, t.revoked "
            "FROM api_tokens t JOIN users u ON u.id = t.user_id ORDER BY t.id"))

    def revoke_token(self, token_id: int) -> None:
        with self.store.transaction():
            if self.db.execute("UPDATE api_tokens SET revoked = 1 WHERE id = ?", [token_id]).rowcount == 0:
                raise ValidationError("id", f"Nyckel {token_id} finns inte.")

    def token_user(self, token: str | None) -> User | None:
        if not token or not token.startswith(TOKEN_PREFIX):
            return None
        rows = list(self.db.query(
            "SELECT u.*, t.id AS token_id FROM api_tokens t JOIN users u ON u.id = t.user_id "
            "WHERE t.token_hash = ? AND t.revoked = 0", [_hash_token(token)]))
        if not rows or not rows[0]["active"]:
            return None
        with self.store.transaction():
            self.db.execute("UPDATE api_tokens SET last_used_at = ? WHERE id = ?",
                            [_now().isoformat(timespec="seconds"), rows[0]["token_id"]])
        return _user(rows[0])
