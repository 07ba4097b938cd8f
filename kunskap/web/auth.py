"""Authentication for staff: session cookies (pages) and bearer tokens (API), plus CSRF.

Searching stays anonymous; every route that writes, and every curation page, depends on one of
the guards here. The session cookie is HttpOnly and SameSite=Lax, and Secure whenever the
request came over https (directly or through a proxy that says so)."""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from ..accounts import Accounts, User
from ..errors import KunskapError

SESSION_COOKIE = "kunskap_session"
LOGIN_CSRF_COOKIE = "kunskap_login_csrf"


class LoginRequired(KunskapError):
    """A page needs a signed-in user: the handler redirects to the login page."""

    code = "unauthorized"


class Unauthorized(KunskapError):
    code = "unauthorized"


class CsrfError(KunskapError):
    code = "csrf_failed"


def accounts(request: Request) -> Accounts:
    return Accounts(request.app.state.kb.store)


def is_https(request: Request) -> bool:
    return request.url.scheme == "https" or request.headers.get("x-forwarded-proto", "").lower() == "https"


def set_cookie(response, request: Request, name: str, value: str, max_age: int | None = None) -> None:
    response.set_cookie(name, value, max_age=max_age, httponly=True, samesite="lax", secure=is_https(request), path="/")


bearer_scheme = HTTPBearer(auto_error=False, scheme_name="API-nyckel",
                           description="Skapas med `kunskap token create --user NAMN --name SYFTE`.")


def bearer_user(request: Request,
                credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)] = None) -> User:
    """API guard: a valid `Authorization: Bearer` token, or 401 (declared in the OpenAPI)."""
    user = accounts(request).token_user(credentials.credentials.strip()) if credentials else None
    if user is None:
        raise Unauthorized("En giltig API-nyckel krävs (Authorization: Bearer …).")
    return user


def session_user(request: Request) -> tuple[User, str]:
    """Page guard: (user, CSRF token) from the session cookie, or a redirect to the login page."""
    found = accounts(request).session(request.cookies.get(SESSION_COOKIE))
    if found is None:
        raise LoginRequired("Logga in för att fortsätta.")
    return found


def check_csrf(expected: str | None, given: str | None) -> None:
    if not expected or not given or not hmac.compare_digest(str(expected), str(given)):
        raise CsrfError("Formuläret har gått ut eller kom från en annan sida. Ladda om sidan och försök igen.")


def new_token() -> str:
    return secrets.token_urlsafe(24)
