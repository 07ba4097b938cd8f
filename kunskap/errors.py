"""Domain exceptions. The core raises these; the CLI and the web layer translate them.

Messages are Swedish because they reach users (staff at the command line, officials on the web);
`code` is a stable English identifier for the API's error shape.
"""


class KunskapError(Exception):
    code = "error"

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class DocumentError(KunskapError):
    """A corpus file that cannot be ingested. Always names the file."""

    code = "invalid_document"

    def __init__(self, path, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class IndexMismatchError(KunskapError):
    """The saved index was built with another model, dimension or chunker."""

    code = "index_mismatch"


class IndexMissingError(KunskapError):
    code = "index_missing"


class NotFoundError(KunskapError):
    code = "not_found"


class ValidationError(KunskapError):
    """Bad user input; `field` names the parameter or form field."""

    code = "invalid_parameter"

    def __init__(self, field: str, message: str):
        self.field = field
        super().__init__(message)


class OverloadedError(KunskapError):
    """Too many searches are already waiting for the model: answer at once instead of queueing."""

    code = "overloaded"


class ReadOnlyError(KunskapError):
    """A write to a knowledge base opened read-only (`--read-only`)."""

    code = "read_only"


class ConflictError(KunskapError):
    """The file changed since the editor opened it: saving would silently undo someone's work."""

    code = "edit_conflict"


class FormError(KunskapError):
    """Validation errors by field, with Swedish messages for the form."""

    code = "invalid_document"

    def __init__(self, errors: dict[str, str]):
        self.errors = errors
        super().__init__("Kontrollera fälten: " + "; ".join(f"{k}: {v}" for k, v in errors.items()))


class AuthError(KunskapError):
    """Wrong or missing credentials: a login, session or API token that is not valid."""

    code = "unauthorized"


class ThrottledError(KunskapError):
    """Too many failed logins for one account or address: wait before trying again."""

    code = "too_many_attempts"


class StorageUnavailableError(KunskapError):
    """The database cannot be reached or used. The message names it, with any password masked."""

    code = "storage_unavailable"


class SchemaVersionError(KunskapError):
    """The database was upgraded by a newer release than this one: refused, nothing is changed."""

    code = "schema_too_new"
