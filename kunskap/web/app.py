"""`create_app(settings)`: the FastAPI application, used by `kunskap serve` and by the tests.

Nothing heavy happens at import: the knowledge base (SQLite, FAISS, the embedding model) is
opened in the lifespan, after any worker fork, and held on `app.state`.
"""

from __future__ import annotations

import logging
import threading
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from fastapi_offline import FastAPIOffline

from ..config import Settings, load_settings
from . import (
    api,
    curation_api,
    curation_pages,
    docs,
    errors,
    follow,
    insights_pages,
    openapi,
    overview_api,
    overview_pages,
    pages,
)
from .middleware import CacheHeadersMiddleware, PrivacyAccessLogMiddleware, SecurityHeadersMiddleware
from .ratelimit import RateLimitMiddleware

log = logging.getLogger("kunskap")


def web_dir() -> Path:
    """Templates and static files: inside the installed package, or the repository's web/."""
    packaged = Path(__file__).resolve().parent.parent / "_web"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parent.parent.parent / "web"


def create_app(settings: Settings, knowledge_base=None) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI):
        from ..accounts import Accounts
        from ..curation import Curator, DeferredSaves
        from ..curation.imports import ImportJobs
        from ..knowledgebase import KnowledgeBase
        from ..overview import Overview
        from ..search import Searcher
        from .admission import Admission

        import anyio.to_thread

        anyio.to_thread.current_default_thread_limiter().total_tokens = settings.request_threads
        kb = knowledge_base or KnowledgeBase(settings)
        if kb.vectors is None:
            kb.open_vectors()
        _ = kb.embedder   # load the model now, not on the first request
        app.state.kb = kb
        app.state.searcher = Searcher(kb)
        app.state.overview = Overview(kb)
        app.state.admission = Admission(kb.settings.max_pending_searches)
        # Built once and shared by every request: both hold no per-request state, and Accounts
        # reaches the calling thread's database connection through kb.store.
        app.state.curator = curator = Curator(kb)
        app.state.accounts = Accounts(lambda: kb.store)
        app.state.deferred_saves = None
        app.state.import_jobs = None
        app.state.insights = start_insights(kb, settings)
        if not settings.read_only:
            for line in curator.recover():   # saves a crash interrupted: finished or undone
                log.warning("kunskap: återhämtning: %s", line)
            app.state.deferred_saves = DeferredSaves(curator)
            app.state.import_jobs = ImportJobs(curator)
            if not kb.vectors_complete and kb.missing_vectors():
                start_semantic_build(kb)
        log.info("kunskap: %d dokument, %d vektorer, modell %s",
                 kb.store.count_documents(), kb.vectors.count, kb.embedder.model_id)
        yield
        if app.state.deferred_saves is not None:
            app.state.deferred_saves.close()
        if app.state.import_jobs is not None:
            app.state.import_jobs.close()   # a running import goes on until the process ends
        if app.state.insights is not None:
            app.state.insights.close()   # what is still queued is written

    # FastAPIOffline bundles Swagger UI and ReDoc (no CDN, so the API documentation works on an
    # offline server too); the pages themselves are ours (web/docs.py), without inline script.
    app = FastAPIOffline(
        favicon_url="/static/favicon.svg",
        title="kunskap API",
        version="1",
        description="Sök i klimatarbetet hos Klimatkommunernas medlemmar. Fel har formen "
                    '{"error": {"code": "...", "message": "..."}}.',
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url="/api/v1/openapi.json",
    )
    app.state.settings = settings
    base = web_dir()
    app.state.templates = Jinja2Templates(directory=str(base / "templates"))
    pages.configure_templates(app.state.templates)
    app.mount("/static", StaticFiles(directory=str(base / "static")), name="static")
    app.include_router(api.router)
    app.include_router(overview_api.router)
    app.include_router(curation_api.router)
    app.include_router(pages.router)
    app.include_router(overview_pages.router)
    app.include_router(follow.router)
    app.include_router(curation_pages.router)
    app.include_router(insights_pages.router)
    app.include_router(insights_pages.api_router)
    app.include_router(docs.router)
    errors.install(app)
    openapi.install(app)
    app.add_middleware(CacheHeadersMiddleware)
    app.add_middleware(GZipMiddleware, minimum_size=800, compresslevel=5)   # level 9 costs ~1 ms per result page
    # Inside CORS, so a 429 carries the CORS headers and the embed on another site can read it.
    app.add_middleware(RateLimitMiddleware, settings=settings)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cors_origins,
        allow_methods=["GET", "OPTIONS"],   # cross-origin use is read-only; writes need a token
        allow_headers=["Content-Type", "Authorization"],
        max_age=600,
    )
    app.add_middleware(SecurityHeadersMiddleware, frame_origins=settings.cors_origins)
    app.add_middleware(PrivacyAccessLogMiddleware)
    return app


def start_insights(kb, settings: Settings):
    """The search recorder for the staff's insights, after deleting what is older than the
    retention period; None when recording is off or the server is read-only (which writes nothing)."""
    from ..insights import SearchRecorder, prune

    if settings.read_only or not settings.insights:
        log.info("kunskap: sökinsikter noteras inte (%s)",
                 "skrivskyddad server" if settings.read_only else "KUNSKAP_INSIGHTS=false")
        return None
    try:
        searches, clicks = prune(kb.store, settings.insights_retention_months)
        if searches or clicks:
            log.info("kunskap: sökinsikter äldre än %d månader borttagna (%d sökningar, %d klick)",
                     settings.insights_retention_months, searches, clicks)
    except Exception as exc:   # the search log must never keep the server from starting
        log.warning("kunskap: gamla sökinsikter kunde inte tas bort: %s", exc)
    return SearchRecorder(lambda: kb.store)


def start_semantic_build(kb) -> threading.Thread:
    """Embed what is not embedded yet in a background thread (a first start, or a new large
    corpus); searches use words alone until it is done, then hybrid without a restart."""
    def run():
        reported = [-1]

        def progress(done: int, total: int) -> None:
            step = int(10 * done / total) if total else 10
            if step != reported[0]:
                reported[0] = step
                log.info("kunskap: semantisk sökning byggs – %d %% (%d av %d avsnitt)",
                         100 * done // max(total, 1), done, total)

        try:
            count = kb.build_semantic(progress)
            if count == 0 and not kb.vectors_complete:   # the build lock is another process's or server's
                log.info("kunskap: semantisk sökning byggs av en annan process eller server; "
                         "vektorerna tas i bruk här när den är klar")
            else:
                log.info("kunskap: semantisk sökning klar (%d avsnitt inbäddade)", count)
        except Exception:   # the cache keeps what was embedded; the next start goes on from there
            log.exception("kunskap: semantisk sökning kunde inte byggas klart")

    thread = threading.Thread(target=run, name="kunskap-semantic-build", daemon=True)
    thread.start()
    return thread


def app_from_environment() -> FastAPI:
    """uvicorn factory for `kunskap serve` (also in worker processes): settings from KUNSKAP_*."""
    return create_app(load_settings())
