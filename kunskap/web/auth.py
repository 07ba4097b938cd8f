"""Authentication for staff: session cookies (pages) and bearer tokens (API), plus CSRF.

Searching stays anonymous; every route that writes, and every curation page, depends on one of
the guards here: `TokenUser` (API), `Staff` (pages) or `CsrfChecked` (the pages' form posts).
The session cookie is HttpOnly and SameSite=Lax, and Secure whenever the request came over
https (directly or through a proxy that says so)."""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from typing import Annotated

from fastapi import Cookie, Depends, Form, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from ..accounts import User
from ..errors import KunskapError
from .deps import AccountsDep

SESSION_COOKIE = "kunskap_session"
LOGIN_CSRF_COOKIE = "kunskap_login_csrf"


class LoginRequired(KunskapError):
    """A page needs a signed-in user: answered with a redirect to the login page (web/errors.py)."""

    code = "unauthorized"


class Unauthorized(KunskapError):
    code = "unauthorized"


class CsrfError(KunskapError):
    code = "csrf_failed"


def is_https(request: Request) -> bool:
    return request.url.scheme == "https" or request.headers.get("x-forwarded-proto", "").lower() == "https"


def set_cookie(response, request: Request, name: str, value: str, max_age: int | None = None) -> None:
    response.set_cookie(name, value, max_age=max_age, httponly=True, samesite="lax", secure=is_https(request), path="/")


bearer_scheme = HTTPBearer(auto_error=False, scheme_name="API-nyckel",
                           description="Skapas med `kunskap token create --user NAMN --name SYFTE`.")


def bearer_user(accounts: AccountsDep,
                credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)] = None) -> User:
    """API guard: a valid `Authorization: Bearer` token, or 401 (declared in the OpenAPI)."""
    user = accounts.token_user(credentials.credentials.strip()) if credentials else None
    if user is None:
        raise Unauthorized("En giltig API-nyckel krävs (Authorization: Bearer …).")
    return user


TokenUser = Annotated[User, Depends(bearer_user)]


@dataclass(frozen=True)
class StaffSession:
    """A signed-in staff member, and their session's CSRF token for the forms on the page."""

    user: User
    csrf: str


def staff_session(accounts: AccountsDep,
                  session: Annotated[str | None, Cookie(alias=SESSION_COOKIE)] = None) -> StaffSession:
    """Page guard: the session cookie's user, or a redirect to the login page (web/errors.py)."""
    found = accounts.session(session)
    if found is None:
        raise LoginRequired("Logga in för att fortsätta.")
    return StaffSession(*found)


Staff = Annotated[StaffSession, Depends(staff_session)]


async def csrf_checked(staff: Staff, csrf: Annotated[str, Form()] = "") -> StaffSession:
    """Guard for a staff form post: signed in (else the login page), and the form's CSRF token
    is the session's (else 403)."""
    check_csrf(staff.csrf, csrf)
    return staff


CsrfChecked = Annotated[StaffSession, Depends(csrf_checked)]


async def check_login_csrf(csrf: Annotated[str, Form()] = "",
                           expected: Annotated[str | None, Cookie(alias=LOGIN_CSRF_COOKIE)] = None) -> None:
    """The login form has no session yet: its CSRF token is checked against a cookie."""
    check_csrf(expected, csrf)


def check_csrf(expected: str | None, given: str | None) -> None:
    if not expected or not given or not hmac.compare_digest(str(expected), str(given)):
        raise CsrfError("Formuläret har gått ut eller kom från en annan sida. Ladda om sidan och försök igen.")


def new_token() -> str:
    return secrets.token_urlsafe(24)
