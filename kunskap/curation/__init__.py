"""Curation for the association's staff: create, edit, tag, publish, upload, delete and restore.

`Curator` (service.py) holds the operations the web pages and the API call; corpus_files.py
decides where a document's files are and whether it is Markdown or an upload with a sidecar.
"""

from ..errors import ConflictError, FormError
from .corpus_files import CASE_FOLDER, UPLOAD_FOLDER, DocumentFiles, render_case_file
from .service import (
    INLINE_UPLOAD_CHUNKS,
    MAX_UPLOAD_BYTES,
    STATUS_LABELS,
    Curator,
    DeferredSaves,
    Duplicate,
    SaveResult,
    UploadResult,
)

__all__ = ["CASE_FOLDER", "INLINE_UPLOAD_CHUNKS", "MAX_UPLOAD_BYTES", "STATUS_LABELS", "UPLOAD_FOLDER",
           "ConflictError", "Curator", "DeferredSaves", "DocumentFiles", "Duplicate", "FormError", "SaveResult",
           "UploadResult", "render_case_file"]
