"""Staff accounts, sessions, API tokens and login throttling, kept in the knowledge base's store.

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
from .storage import Store

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

    # -- users -----------------------------------------------------------------------------
    def add_user(self, username: str, password: str, display_name: str | None = None) -> User:
        username = username.strip().lower()
        if not username or not username.replace(".", "").replace("-", "").replace("_", "").isalnum():
            raise ValidationError("username", "Användarnamnet får bara innehålla bokstäver, siffror, punkt och bindestreck.")
        self._check_password(password)
        if self.find(username):
            raise ValidationError("username", f"Användaren '{username}' finns redan.")
        now = _now().isoformat(timespec="seconds")
        self.store.insert_user(username, display_name or username, _hasher.hash(password), now)
        return self.find(username)

    @staticmethod
    def _check_password(password: str) -> None:
        if len(password) < MIN_PASSWORD_LENGTH:
            raise ValidationError("password", f"Lösenordet måste ha minst {MIN_PASSWORD_LENGTH} tecken.")

    def find(self, username: str) -> User | None:
        row = self.store.user_row(username.strip().lower())
        return _user(row) if row else None

    def list_users(self) -> list[User]:
        return [_user(r) for r in self.store.user_rows()]

    def set_active(self, username: str, active: bool) -> None:
        user = self._require(username)
        with self.store.transaction():
            self.store.set_user_active(user.id, active, _now().isoformat(timespec="seconds"))
            if not active:   # a disabled account is logged out and its keys stop working
                self.store.delete_sessions_of(user.id)
                self.store.revoke_tokens_of(user.id)

    def reset_password(self, username: str, password: str) -> None:
        user = self._require(username)
        self._check_password(password)
        with self.store.transaction():
            self.store.set_password_hash(user.id, _hasher.hash(password), _now().isoformat(timespec="seconds"))
            self.store.delete_sessions_of(user.id)

    def _require(self, username: str) -> User:
        user = self.find(username)
        if user is None:
            raise ValidationError("username", f"Användaren '{username}' finns inte.")
        return user

    # -- login -----------------------------------------------------------------------------
    def _failures(self, key: str) -> int:
        since = time.time() - FAILURE_WINDOW_SECONDS
        return self.store.count_login_attempts(key, since)

    def authenticate(self, username: str, password: str, client: str = "") -> User:
        """Check a password; throttled per user name and per client after repeated failures."""
        username = (username or "").strip().lower()[:100]
        keys = [f"user:{username}", f"client:{client}"]
        if any(self._failures(k) >= MAX_FAILURES for k in keys):
            raise ThrottledError("För många misslyckade inloggningar. Vänta en stund och försök igen.")
        row = self.store.user_row(username)
        ok = False
        if row:
            try:
                ok = _hasher.verify(row["password_hash"], password or "")
            except (VerifyMismatchError, VerificationError, InvalidHashError):
                ok = False
        else:
            _hasher.hash(password or "x")   # same cost whether or not the user exists
        if not ok or not row["active"]:
            with self.store.transaction():
                for key in keys:
                    self.store.add_login_attempt(key, time.time())
            raise AuthError("Fel användarnamn eller lösenord.")
        self.store.clear_login_attempts(keys[0])
        return _user(row)

    # -- sessions --------------------------------------------------------------------------
    def create_session(self, user: User) -> tuple[str, str]:
        """(session token for the cookie, CSRF token for forms)."""
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        now = _now()
        with self.store.transaction():
            self.store.delete_expired_sessions(now.isoformat())
            self.store.insert_session(_hash_token(token), user.id, csrf, now.isoformat(),
                                      (now + dt.timedelta(hours=SESSION_HOURS)).isoformat())
        return token, csrf

    def session(self, token: str | None) -> tuple[User, str] | None:
        if not token:
            return None
        row = self.store.session_row(_hash_token(token))
        if not row or not row["active"] or row["expires_at"] < _now().isoformat():
            return None
        return _user(row), row["csrf_token"]

    def end_session(self, token: str | None) -> None:
        if token:
            self.store.delete_session(_hash_token(token))

    # -- API tokens ------------------------------------------------------------------------
    def create_token(self, username: str, name: str) -> str:
        user = self._require(username)
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        self.store.insert_token(_hash_token(token), name, user.id, _now().isoformat(timespec="seconds"))
        return token

    def list_tokens(self) -> list[dict]:
        return self.store.token_rows()

    def revoke_token(self, token_id: int) -> None:
        if not self.store.revoke_token(token_id):
            raise ValidationError("id", f"Nyckel {token_id} finns inte.")

    def token_user(self, token: str | None) -> User | None:
        if not token or not token.startswith(TOKEN_PREFIX):
            return None
        row = self.store.token_row(_hash_token(token))
        if not row or not row["active"]:
            return None
        self.store.touch_token(row["token_id"], _now().isoformat(timespec="seconds"))
        return _user(row)
