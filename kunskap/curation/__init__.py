"""Curation for the association's staff: create, edit, tag, publish, upload, delete and restore.

`Curator` (service.py) holds the operations the web pages and the API call.
"""

from ..errors import ConflictError, FormError
from .service import (
    INLINE_UPLOAD_CHUNKS,
    MAX_UPLOAD_BYTES,
    STATUS_LABELS,
    Curator,
    DeferredSaves,
    Duplicate,
    SaveResult,
    UploadResult,
    render_case_file,
)

__all__ = ["INLINE_UPLOAD_CHUNKS", "MAX_UPLOAD_BYTES", "STATUS_LABELS", "ConflictError", "Curator", "DeferredSaves",
           "Duplicate", "FormError", "SaveResult", "UploadResult", "render_case_file"]
