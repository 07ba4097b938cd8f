"""Curation for the association's staff: create, edit, tag, publish, upload, delete and restore.

`Curator` (service.py) holds the operations the web pages and the API call; corpus_files.py
decides where a document's files are and whether it is Markdown or an upload with a sidecar;
validation.py turns form values into front matter with the corpus contract's rules (metadata.py);
duplicates.py is the duplicate guard and the near-duplicate scan; revisions.py is the save
journal (every save a revision, crash recovery, deferred uploads, history, diffs); suggest.py
proposes themes for a draft from the theme vocabulary and the documents already tagged;
fetch.py, intake.py and domains.py turn a web page into a draft; spreadsheet.py and imports.py
turn a spreadsheet's rows into drafts.
"""

from ..errors import ConflictError, FormError
from ..metadata import STATUS_LABELS
from .corpus_files import CASE_FOLDER, UPLOAD_FOLDER, DocumentFiles, render_case_file
from .duplicates import Duplicate
from .revisions import DeferredSaves, SaveJournal
from .suggest import Suggestion, ThemeSuggester
from .service import INLINE_UPLOAD_CHUNKS, MAX_UPLOAD_BYTES, Curator, SaveResult, UploadResult

__all__ = ["CASE_FOLDER", "INLINE_UPLOAD_CHUNKS", "MAX_UPLOAD_BYTES", "STATUS_LABELS", "UPLOAD_FOLDER",
           "ConflictError", "Curator", "DeferredSaves", "DocumentFiles", "Duplicate", "FormError", "SaveJournal",
           "SaveResult", "Suggestion", "ThemeSuggester", "UploadResult", "render_case_file"]
