"""The OpenAPI document as the API really behaves: FastAPI adds a 422 response (its validation
error shape) to every operation with parameters, but bad input here is a 400 with the API's
error shape (web/errors.py), declared per operation (web/schemas.errors). So the 422s and their
schemas are taken out."""

from __future__ import annotations

from fastapi import FastAPI


def install(app: FastAPI) -> None:
    def openapi() -> dict:
        if app.openapi_schema is None:
            schema = FastAPI.openapi(app)   # FastAPI's own document (cached on the app), cleaned below
            for operations in schema.get("paths", {}).values():
                for operation in operations.values():
                    operation.get("responses", {}).pop("422", None)
            components = schema.get("components", {}).get("schemas", {})
            for name in ("HTTPValidationError", "ValidationError"):
                components.pop(name, None)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi
