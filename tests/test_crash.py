"""Crash tests (issue 14 §4): `kill -9` of real `kunskap ingest` and `kunskap serve` processes at
seeded random moments, then what the next start relies on: SQLite rows, FTS rows and FAISS ids
agree, every save is finished or undone, and the knowledge base equals a clean build of its corpus.

No mocks and no fault injection: the processes are real, killed with SIGKILL (their whole process
group), and the checks read the files they left. Kill points are random, so each round records
what the kill interrupted and left; it is printed as the rounds go (`pytest -s`, or pytest's
captured output on a failure). Set CRASH_TEST_SEED to try other kill points."""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np

from kunskap.chunking import chunk_document
from kunskap.config import Settings
from kunskap.errors import IndexMissingError
from kunskap.ingest import ingest, load_corpus
from kunskap.knowledgebase import KnowledgeBase
from kunskap.reference import organisations
from kunskap.vectors import VectorIndex, id_fingerprint, read_manifest

from .conftest import REPO, SAMPLE, free_port, write_case
from .test_ingest import consistent

SEED = int(os.environ.get("CRASH_TEST_SEED", "14"))
INGEST_KILLS = 10
SERVER_ROUNDS = 4


# -- processes --------------------------------------------------------------------------------
def process_env(**extra) -> dict:
    """The test's environment for a `python -m kunskap` child: this checkout first on the path,
    no KUNSKAP_* setting leaking in from outside."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KUNSKAP_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    env.update({k: str(v) for k, v in extra.items()})
    return env


def spawn(args: list[str], env: dict, log: Path) -> subprocess.Popen:
    """`python -m kunskap …` as the leader of its own process group, output to `log`."""
    with open(log, "ab") as out:
        return subprocess.Popen([sys.executable, "-m", "kunskap", *args], env=env, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)


def kill_9(process: subprocess.Popen) -> None:
    """SIGKILL to the process's whole group, then reap it. Safe to call twice or after an exit:
    the group id stays ours until the process is reaped."""
    if process.returncode is None:
        try:
            os.kill(-process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    process.wait(timeout=30)


def stop(process: subprocess.Popen) -> None:
    """A graceful stop (SIGTERM), SIGKILL if it does not come."""
    if process.returncode is None:
        try:
            os.kill(-process.pid, signal.SIGTERM)
            process.wait(timeout=15)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            pass
    kill_9(process)


def tail(log: Path, lines: int = 40) -> str:
    return "\n".join(log.read_text("utf-8", "replace").splitlines()[-lines:]) if log.exists() else ""


# -- what a knowledge base holds, keyed by content (chunk rowids differ between builds) ---------
def settings_for(corpus: Path, index: Path) -> Settings:
    return Settings(corpus=corpus, index=index, model="hashing")


def contents(kb: KnowledgeBase) -> dict[str, tuple[str, list[str]]]:
    """doc id -> (content hash, chunk texts in order), from the database."""
    held: dict[str, tuple[str, list[str]]] = {
        doc_id: (content_hash, []) for doc_id, content_hash in
        kb.store.db.execute("SELECT id, content_hash FROM documents").fetchall()}
    for doc_id, text in kb.store.db.execute("SELECT doc_id, text FROM chunks ORDER BY doc_id, ord").fetchall():
        held[doc_id][1].append(text)
    return held


def corpus_contents(corpus: Path) -> dict[str, tuple[str, list[str]]]:
    """What a complete ingest of `corpus` stores: doc id -> (content hash, chunk texts)."""
    documents, rejected = load_corpus(corpus)
    assert rejected == [], [f"{e.path}: {e.reason}" for e in rejected]
    return {d.id: (d.content_hash, [c.text for c in chunk_document(d)]) for d in documents}


def snapshot(corpus: Path, index: Path) -> dict:
    """Everything in the knowledge base at `index` as saved on disk, nothing repaired: documents,
    chunk texts, FTS rows and vectors per chunk, and the vocabulary."""
    kb = KnowledgeBase(settings_for(corpus, index))
    try:
        vectors = kb.open_vectors(repair=False)
        consistent(kb)
        db = kb.store.db
        held = {
            "documents": {r[0]: r[1:] for r in db.execute(
                "SELECT id, content_hash, source_path, status, title FROM documents").fetchall()},
            "chunks": {}, "fts": {}, "vectors": {},
            "vocabulary": kb.store.vocabulary(), "lexicon": {word: True for word in kb.store.lexicon()},
        }
        for chunk_id, doc_id, order, text, heading, page, fts_title, fts_body in db.execute(
                "SELECT c.id, c.doc_id, c.ord, c.text, c.heading, c.page, f.title, f.body FROM chunks c "
                "LEFT JOIN chunks_fts f ON f.rowid = c.id ORDER BY c.doc_id, c.ord").fetchall():
            held["chunks"].setdefault(doc_id, []).append((text, heading, page))
            held["fts"][(doc_id, order, text)] = (fts_title, fts_body)
            held["vectors"][(doc_id, order, text)] = vectors.reconstruct(chunk_id)
        return held
    finally:
        kb.store.close()


def differences(got: dict, want: dict, parts=("documents", "chunks", "fts", "vectors", "vocabulary", "lexicon")) -> list[str]:
    """What differs between two snapshots, as readable lines (empty: none)."""
    found = []
    for part in parts:
        a, b = got[part], want[part]
        for key in sorted(set(a) | set(b), key=str):
            if key not in a:
                found.append(f"{part}: missing {key!r}")
            elif key not in b:
                found.append(f"{part}: extra {key!r}")
            elif part == "vectors":
                if not np.array_equal(a[key], b[key]):
                    found.append(f"vectors: {key!r} differs")
            elif a[key] != b[key]:
                found.append(f"{part}: {key!r}: {str(a[key])[:120]} != {str(b[key])[:120]}")
    return found


# -- a generated corpus with varied words ------------------------------------------------------
SUBJECTS = ["Kommunen", "Regionen", "Förvaltningen", "Bostadsbolaget", "Skolan", "Hemtjänsten", "Energibolaget",
            "Tekniska kontoret", "Miljöförvaltningen", "Kollektivtrafiken", "Räddningstjänsten", "Vattenverket"]
VERBS = ["bytte till", "byggde ut", "mätte", "halverade", "upphandlade", "planerade", "införde", "utredde",
         "finansierade", "testade", "renoverade", "samordnade", "kartlade", "följde upp"]
OBJECTS = ["biogasbussar", "elbussar", "cykelvägar", "laddplatser", "solceller", "fjärrvärme", "värmepumpar",
           "växtbaserade måltider", "matsvinnet", "lastcyklar", "energirådgivning", "klimatanpassning",
           "dagvattenhantering", "gröna tak", "träbyggnader", "bilpooler", "tjänsteresor", "återbruk",
           "livsmedelsinköp", "energieffektivisering", "vindkraft", "batterilager", "skyfallsplaner", "trädplantering"]
PLACES = ["i centrum", "på landsbygden", "vid stationen", "i skolorna", "på sjukhusen", "i äldreboendena",
          "i hyresrätterna", "längs kusten", "i industriområdet", "vid ändhållplatserna", "i förskolorna"]
ENDINGS = ["under tre år.", "tillsammans med näringslivet.", "med stöd från Klimatklivet.",
           "och följde upp varje kvartal.", "så att utsläppen minskade.", "efter en medborgardialog.",
           "med mätbara mål för 2030.", "och delade lärdomarna med grannkommunerna."]
# Parts of made-up compounds: which of them occur twice decides the decompounding lexicon, so
# the lexicon changes from round to round and the FTS rows of unchanged documents are re-derived.
PARTS = ["cykel", "buss", "sol", "vind", "energi", "klimat", "mat", "skol", "väg", "plan", "värme", "tak", "vatten"]


def sentence(rng: random.Random) -> str:
    words = [rng.choice(SUBJECTS), rng.choice(VERBS), rng.choice(OBJECTS), rng.choice(PLACES)]
    if rng.random() < 0.4:
        words.append(f"enligt {''.join(rng.sample(PARTS, 2))}{rng.choice(PARTS)}en")
    return " ".join(words) + " " + rng.choice(ENDINGS)


def case_body(rng: random.Random) -> str:
    return "\n\n".join(f"## {heading}\n" + " ".join(sentence(rng) for _ in range(rng.randint(5, 12)))
                       + f" Diarienummer {rng.randrange(10 ** 6)}."
                       for heading in ("Bakgrund", "Vad gjordes", "Resultat", "Lärdomar"))


def write_generated_case(corpus: Path, name: str, rng: random.Random, number: int, **meta) -> None:
    organisation = rng.choice(sorted(organisations()))
    title = f"{rng.choice(OBJECTS).capitalize()} {rng.choice(PLACES)} ({number})"
    write_case(corpus, name, title, organisation, case_body(rng), year=rng.randint(2010, 2025), **meta)


def generate_corpus(corpus: Path, rng: random.Random, count: int) -> None:
    for name, (title, organisation, body, meta) in SAMPLE.items():
        write_case(corpus, name, title, organisation, body, **meta)
    for number in range(count):
        write_generated_case(corpus, f"fall/fall-{number:03d}.md", rng, number)


def mutate_corpus(corpus: Path, rng: random.Random, round_number: int) -> None:
    """Rewrite a random share of the generated files (new text to embed), add some, delete some
    (the ingest runs with --prune) and give one a new id."""
    files = sorted((corpus / "fall").glob("*.md"))
    rewrite = rng.sample(files, int(len(files) * rng.uniform(0.2, 0.8)))
    for path in rewrite:
        write_generated_case(corpus, path.relative_to(corpus).as_posix(), rng, rng.randrange(10 ** 4))
    renamed = rng.choice([p for p in files if p not in rewrite])
    write_generated_case(corpus, renamed.relative_to(corpus).as_posix(), rng, 0, id=f"omdopt-{round_number}")
    for path in rng.sample([p for p in files if p not in rewrite and p != renamed], rng.randint(2, 6)):
        path.unlink()
    added = rng.randint(4, 12)
    for number in range(added):
        write_generated_case(corpus, f"fall/ny-{round_number}-{number}.md", rng, number)


def saved_index_state(kb: KnowledgeBase) -> str:
    """How the vector index on disk relates to the database, before anything repairs it."""
    try:
        manifest = read_manifest(kb.index_dir)
        saved = VectorIndex.load(kb.index_dir, manifest.model_id, manifest.dimension, manifest.chunker_version)
    except IndexMissingError:
        return "index missing or half-saved"
    if id_fingerprint(saved.ids()) != kb.store.chunk_fingerprint():
        return "index behind the database"
    return "index saved"


# -- 1. kill -9 of `kunskap ingest` ------------------------------------------------------------
class IngestWatch:
    """What a running ingest has done, seen from outside through the files it writes: its one
    database commit (new chunk rowids become visible to a reader) and its replacement of the
    vector index file (a new inode). Read-only: it never creates or locks anything."""

    def __init__(self, index: Path):
        self.index = index
        self._db = None
        self.chunks_at_start = self.max_chunk_id()
        self.index_at_start = self.index_inode()

    def max_chunk_id(self) -> int:
        import sqlite3

        try:
            if self._db is None:
                self._db = sqlite3.connect(f"file:{self.index / 'kunskap.db'}?mode=ro", uri=True, timeout=0.05)
            return self._db.execute("SELECT coalesce(max(id), 0) FROM chunks").fetchone()[0]
        except sqlite3.Error:     # not created (or migrated) yet, or busy for a moment
            self.close()
            return 0

    def index_inode(self) -> int | None:
        try:
            return (self.index / "vectors.faiss").stat().st_ino
        except FileNotFoundError:
            return None

    def committed(self) -> bool:
        return self.max_chunk_id() > self.chunks_at_start

    def index_replaced(self) -> bool:
        return self.index_inode() not in (None, self.index_at_start)

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None


def wait_until(process: subprocess.Popen, condition, timeout: float = 60) -> bool:
    """Poll `condition` every ~2 ms while `process` runs; False if it ended first. (poll() is
    not used: the process must stay unreaped, so its process group id cannot be reused.)"""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        if os.waitid(os.P_PID, process.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None:
            return False
        time.sleep(0.002)
    return False


# Where each round puts its kill: after a random delay spread over the ingest's expected duration,
# or a random moment after an event seen from outside, so that the short windows between the
# database commit and the saved index are hit too, not only the long embedding phase.
KILL_MODES = ("anywhere", "anywhere", "at the commit", "after the commit", "at the index save")
REQUIRED_OUTCOMES = ("before the commit", "after the commit, index behind the database")


def test_kill_9_of_ingest_at_random_points_leaves_a_consistent_index_and_a_clean_build_result(tmp_path):
    rng = random.Random(SEED)
    corpus, index, log = tmp_path / "corpus", tmp_path / "index", tmp_path / "ingest.log"
    generate_corpus(corpus, rng, 150)
    env = process_env()

    def ingest_command(target: Path) -> list[str]:
        return ["ingest", str(corpus), "--index", str(target), "--model", "hashing", "--prune", "--quiet"]

    # How long an uninterrupted first ingest takes on this machine now: the "anywhere" delays are
    # spread over it (start-up, reading, embedding, the one write transaction, saving the index).
    started = time.monotonic()
    calibration = spawn(ingest_command(tmp_path / "calibration"), env, log)
    try:
        assert calibration.wait(timeout=120) == 0, tail(log)
    finally:
        kill_9(calibration)
    full = time.monotonic() - started

    report, outcomes = [], Counter()
    kills, round_number = 0, 0
    before: dict = {}
    while kills < INGEST_KILLS or any(outcomes[o] == 0 for o in REQUIRED_OUTCOMES):
        assert round_number < 30, f"{kills} kills, outcomes {dict(outcomes)}:\n" + "\n".join(report)
        if round_number:
            mutate_corpus(corpus, rng, round_number)
        after = corpus_contents(corpus)
        # The work this ingest has to do: documents to write or remove (the rest is start-up,
        # reading the corpus and re-deriving FTS rows).
        work = sum(before.get(k) != v for k, v in after.items()) + len(set(before) - set(after))
        expected = full * (0.4 + 0.6 * min(work / len(after), 1.0))
        mode = KILL_MODES[round_number % len(KILL_MODES)] if round_number else "anywhere"
        watch = IngestWatch(index)
        started = time.monotonic()
        process = spawn(ingest_command(index), env, log)
        try:
            if mode == "anywhere":
                time.sleep(rng.uniform(0.05, 1.1) * expected)
            elif mode == "at the commit":
                wait_until(process, watch.committed)
            elif mode == "after the commit":
                if wait_until(process, watch.committed):
                    time.sleep(rng.uniform(0, 0.15))
            else:
                wait_until(process, watch.index_replaced)
        finally:
            kill_9(process)
            watch.close()
        delay = time.monotonic() - started
        killed = process.returncode == -signal.SIGKILL
        assert killed or process.returncode == 0, tail(log)

        # Checked on a copy of what the kill left (database with its WAL, index files), opened as
        # a server start would, repairing it; the original is left as it is for the next ingest
        # to repair (and maybe be killed while it does).
        shutil.rmtree(tmp_path / "check", ignore_errors=True)
        shutil.copytree(index, tmp_path / "check")
        kb = KnowledgeBase(settings_for(corpus, tmp_path / "check"))
        try:
            held = contents(kb)
            # One transaction writes every document: all or nothing, never a mix.
            assert held in (before, after), f"round {round_number}: a half-written ingest"
            if held == before:
                cached = kb.store.db.execute("SELECT count(*) FROM embeddings").fetchone()[0]
                state, detail = "before the commit", f" ({cached} vectors cached)"
            else:
                state, detail = f"after the commit, {saved_index_state(kb)}", ""
            print(f"round {round_number}: {mode}: {'killed' if killed else 'finished'} after {delay:.2f} s: {state}")
            kb.open_vectors()
            if held:
                consistent(kb)
            else:   # killed before the very first commit: nothing stored, nothing indexed
                assert kb.vectors.count == kb.store.count_chunks() == 0
                assert kb.store.db.execute("SELECT count(*) FROM chunks_fts").fetchone()[0] == 0
            assert contents(kb) == held          # opening repaired the index, not the documents
        finally:
            kb.store.close()
        if killed:
            kills += 1
            outcomes[state] += 1
        else:
            assert held == after
        report.append(f"round {round_number}: {mode}: {'killed' if killed else 'finished'} after {delay:.2f} s "
                      f"(~{expected:.1f} s expected, {work} documents to write): {state}{detail}")
        before = held
        round_number += 1

    final = spawn(ingest_command(index), env, log)
    clean = spawn(ingest_command(tmp_path / "clean"), env, log)
    try:
        assert final.wait(timeout=120) == 0, tail(log)
        assert clean.wait(timeout=120) == 0, tail(log)
    finally:
        kill_9(final)
        kill_9(clean)
    print(f"\ningest killed {kills} times (full ingest {full:.1f} s):\n" + "\n".join(report)
          + f"\noutcomes: {dict(outcomes)}")
    recovered, rebuilt = snapshot(corpus, index), snapshot(corpus, tmp_path / "clean")
    assert len(rebuilt["documents"]) == len(corpus_contents(corpus)) > 150
    assert len(rebuilt["vectors"]) > 600
    assert differences(recovered, rebuilt) == []


# -- 2. kill -9 of `kunskap serve` during saves ------------------------------------------------
STAFF_PASSWORD = "ett långt lösenord för krocktest"
ORGANISATIONS = ["Växjö kommun", "Lunds kommun", "Malmö stad", "Umeå kommun", "Region Skåne", "Borås stad"]


@dataclass
class Save:
    """One request of the client's stream and what became of it."""

    kind: str                       # create | edit | upload
    method: str
    path: str
    key: str | None = None          # Idempotency-Key
    json: dict | None = None
    form: dict | None = None
    file: bytes | None = None
    title: str = ""
    marker: str = ""                # a unique phrase of this save's text
    doc_id: str | None = None
    status: int | None = None       # None: no answer (the server died)
    answer: dict = field(default_factory=dict)
    target: dict | None = None      # an edit: the document (or the create that makes it)
    sent: bool = False
    replayed: bool = False
    retried: bool = False

    def send(self, client: httpx.Client) -> None:
        self.sent = True
        headers = {"Idempotency-Key": self.key} if self.key else {}
        if self.file is not None:
            response = client.post(self.path, headers=headers, data=self.form,
                                   files={"file": (f"{self.marker.split()[0]}.pdf", self.file, "application/pdf")})
        else:
            response = client.request(self.method, self.path, headers=headers, json=self.json)
        self.status, self.answer = response.status_code, response.json()
        self.replayed = response.headers.get("Idempotent-Replayed") == "true"
        if self.kind != "edit" and response.is_success:
            self.doc_id = self.answer["id"]


class Server:
    """`kunskap serve` in its own process group on a free port."""

    def __init__(self, env: dict, log: Path):
        self.env, self.log = env, log
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 90) -> str:
        port = free_port()
        self.process = spawn(["serve", "--port", str(port)], self.env, self.log)
        self.base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, tail(self.log)
            try:
                answer = httpx.get(f"{self.base}/ready", timeout=5)
                if answer.status_code == 200:
                    return self.base
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"kunskap serve did not become ready:\n{tail(self.log)}")

    def kill_9(self) -> None:
        kill_9(self.process)

    def stop(self) -> None:
        if self.process is not None:
            stop(self.process)


def plan_saves(rng: random.Random, round_number: int, editable: list[dict], pdf: bytes, count: int = 40) -> list[Save]:
    """A stream of creates, edits of documents created earlier (or of the sample documents) and
    one upload, each with its own unique title or text."""
    saves = []
    upload_at = rng.randrange(2, 8)
    for number in range(count):
        marker = f"krocktest{round_number}x{number} {rng.choice(OBJECTS)}"
        body = f"## Bakgrund\nUnik text {marker}.\n\n## Vad gjordes\n" + " ".join(sentence(rng) for _ in range(6))
        if number == upload_at:
            title = f"Presentation {marker}"
            saves.append(Save("upload", "POST", "/api/v1/uploads", key=str(uuid.UUID(int=rng.getrandbits(128))),
                              form={"title": title, "organisation": rng.choice(ORGANISATIONS), "status": "published"},
                              file=pdf, title=title, marker=marker))
        elif number % 3 == 2 and editable:
            target = rng.choice(editable)
            saves.append(Save("edit", "PUT", "", json={"title": target["title"], "organisation": target["organisation"],
                                                       "body": body, "status": "published"},
                              title=target["title"], marker=marker, doc_id=target.get("id"), target=target))
        else:
            title = f"Krocktest {round_number}.{number}: {rng.choice(OBJECTS)} {rng.choice(PLACES)}"
            document = {"title": title, "organisation": rng.choice(ORGANISATIONS), "body": body,
                        "status": "published", "confirm_duplicates": True}
            save = Save("create", "POST", "/api/v1/documents", key=str(uuid.UUID(int=rng.getrandbits(128))),
                        json=document, title=title, marker=marker)
            saves.append(save)
            editable.append({"title": title, "organisation": document["organisation"], "create": save})
    return saves


class Stream(threading.Thread):
    """The client: sends the saves one after another until one gets no answer."""

    def __init__(self, base: str, token: str, saves: list[Save]):
        super().__init__(daemon=True)
        self.base, self.token, self.saves = base, token, saves
        self.acknowledged = 0
        self.done = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            with httpx.Client(base_url=self.base, timeout=60,
                              headers={"Authorization": f"Bearer {self.token}"}) as client:
                for save in self.saves:
                    if not resolve_edit(save):
                        continue
                    try:
                        save.send(client)
                    except httpx.TransportError:
                        return                        # the server died: this one has no answer
                    assert save.status in (200, 201, 202), (save.kind, save.status, save.answer)
                    self.acknowledged += 1
        except BaseException as exc:   # reported by the test, not lost in the thread
            self.error = exc
        finally:
            self.done.set()


def resolve_edit(save: Save) -> bool:
    """An edit of a document created in this stream needs that create's id; skip the edit when
    the create got no answer (it is retried later, the edit is not sent)."""
    target = save.target
    if save.kind != "edit":
        return True
    if "create" in target:
        if target["create"].doc_id is None:
            return False
        save.doc_id = target["create"].doc_id
    save.path = f"/api/v1/documents/{save.doc_id}"
    return True


class SaveWatch:
    """Sees a save begin from outside: its pending revision committed to the journal (read
    through a connection of its own: SQLite's file, read-only, or the PostgreSQL database)."""

    def __init__(self, connection):
        self._db = connection
        self.last = self._latest()

    @classmethod
    def sqlite(cls, index: Path) -> "SaveWatch":
        import sqlite3

        return cls(sqlite3.connect(f"file:{index / 'kunskap.db'}?mode=ro", uri=True, timeout=1))

    @classmethod
    def postgres(cls, url: str) -> "SaveWatch":
        import psycopg

        return cls(psycopg.connect(url, autocommit=True))

    def _latest(self) -> int:
        return self._db.execute("SELECT coalesce(max(id), 0) FROM revisions").fetchone()[0]

    def new_save(self) -> bool:
        return self._latest() > self.last

    def close(self) -> None:
        self._db.close()


def kill_within_a_save(server: "Server", stream: "Stream", at_least: int, watch, delay) -> None:
    """Start `stream`; once `at_least` saves were answered, wait for the next one to begin (its
    pending revision, seen by `watch()`), then `delay(mean seconds of a save so far)` more, and
    kill -9 the server, leaving that save unanswered."""
    started = time.monotonic()
    stream.start()
    deadline = started + 60
    while stream.acknowledged < at_least and not stream.done.is_set():
        assert time.monotonic() < deadline, tail(server.log)
        time.sleep(0.005)
    mean_save = (time.monotonic() - started) / max(stream.acknowledged, 1)
    journal = watch()
    try:
        while not journal.new_save() and not stream.done.is_set():
            assert time.monotonic() < deadline, tail(server.log)
            time.sleep(0.002)
    finally:
        journal.close()
    time.sleep(delay(mean_save))
    assert not stream.done.is_set(), f"the stream ended before the kill: {stream.error!r}\n{tail(server.log)}"
    server.kill_9()
    stream.join(30)
    assert stream.error is None, repr(stream.error)


def crash_state(corpus: Path, index: Path) -> str:
    """What the kill left for the next start to finish or undo (read before the restart)."""
    kb = KnowledgeBase(settings_for(corpus, index))
    try:
        pending = kb.store.db.execute("SELECT action FROM revisions WHERE state = 'pending'").fetchall()
        documents, rejected = load_corpus(corpus)
        stored = {doc_id: state["content_hash"] for doc_id, state in kb.store.document_states().items()}
        orphans = [d.id for d in documents if d.id not in stored]
        behind = [d.id for d in documents if d.id in stored and stored[d.id] != d.content_hash]
        temporary = [p for folder in (corpus, index) for p in folder.rglob(".*.tmp")]
        return (f"{len(pending)} pending ({', '.join(a for (a,) in pending) or '-'}), {len(orphans)} corpus files "
                f"not in the database, {len(behind)} files newer than the database, {len(rejected)} unreadable, "
                f"{saved_index_state(kb)}, {len(temporary)} temporary files")
    finally:
        kb.store.close()


def wait_for_pending(client: httpx.Client, saves: list[Save]) -> None:
    """Deferred uploads (202) are indexed in the background: wait until they are done."""
    for save in saves:
        if save.status == 202:
            deadline = time.monotonic() + 60
            while (state := client.get(f"/api/v1/saves/{save.answer['revision']}").json()["state"]) == "pending":
                assert time.monotonic() < deadline, f"save {save.answer} still pending"
                time.sleep(0.1)
            assert state == "done", state


def staffed_sample(corpus: Path, settings: Settings, tmp_path: Path) -> tuple[str, bytes]:
    """The sample corpus ingested into the knowledge base of `settings`, with a staff account:
    its API token, and a small PDF to upload."""
    from kunskap.accounts import Accounts

    from .files import make_pdf

    for name, (title, organisation, body, meta) in SAMPLE.items():
        write_case(corpus, name, title, organisation, body, **meta)
    kb = KnowledgeBase(settings)
    ingest(kb, corpus)
    accounts = Accounts(kb.store)
    accounts.add_user("krock", STAFF_PASSWORD)
    token = accounts.create_token("krock", "krocktest")
    kb.store.close()
    return token, make_pdf(tmp_path / "liten.pdf", ["Solceller på förskolans tak i Lund.",
                                                    "Egen el och laddning av elcyklar."]).read_bytes()


def test_kill_9_of_the_server_during_saves_loses_nothing_and_duplicates_nothing(tmp_path):
    from kunskap.curation import INLINE_UPLOAD_CHUNKS

    from .files import make_pdf

    rng = random.Random(SEED + 1)
    corpus, index, log = tmp_path / "corpus", tmp_path / "index", tmp_path / "serve.log"
    token, small_pdf = staffed_sample(corpus, settings_for(corpus, index), tmp_path)
    # One upload large enough to be indexed in the background (the journal must finish it).
    page = " ".join(f"Laddinfrastruktur och elbussar i Borås, avsnitt {i}." for i in range(30))
    large_pdf = make_pdf(tmp_path / "stor.pdf", [page] * (INLINE_UPLOAD_CHUNKS + 10)).read_bytes()

    server = Server(process_env(KUNSKAP_CORPUS=corpus, KUNSKAP_INDEX=index, KUNSKAP_MODEL="hashing"), log)
    editable = [{"id": name[:-3], "title": title, "organisation": organisation}
                for name, (title, organisation, _, _) in SAMPLE.items() if organisation in ORGANISATIONS]
    every: list[Save] = []
    report = []
    try:
        base = server.start()
        for round_number in range(SERVER_ROUNDS):
            saves = plan_saves(rng, round_number, editable, large_pdf if round_number == 1 else small_pdf)
            stream = Stream(base, token, saves)
            # Killed within a save, seen from outside by its journal entry (the pending revision):
            # at once (before or while its files are written) or a random delay up to the mean
            # length of a save so far (most of it is indexing).
            kill_within_a_save(server, stream, rng.randint(6, 10), lambda: SaveWatch.sqlite(index),
                               lambda mean: 0 if round_number % 2 == 0 else rng.uniform(0, mean))
            unanswered = [s for s in saves if s.sent and s.status is None]
            created = [s for s in saves if s.kind == "create" and s.status == 201]
            assert len(created) >= 3 and len(unanswered) == 1, (len(created), len(unanswered))
            left = crash_state(corpus, index)
            print(f"round {round_number}: killed during {unanswered[0].kind} '{unanswered[0].marker}': {left}")
            if round_number == 2:
                # The README's workflow: `kunskap ingest` run before the service is back up. It
                # must not trip over what the crash left; the start-up after it still recovers.
                operator = spawn(["ingest", "--quiet"], server.env, log)
                try:
                    assert operator.wait(timeout=120) in (0, 2), tail(log)
                finally:
                    kill_9(operator)
                left += f"; then kunskap ingest: {tail(log, 1)}"

            logged = len(log.read_text("utf-8").splitlines())
            base = server.start()         # recovery runs at start-up
            recovery = [line.split("återhämtning: ", 1)[1] for line in log.read_text("utf-8").splitlines()[logged:]
                        if "återhämtning: " in line]
            with httpx.Client(base_url=base, timeout=60, headers={"Authorization": f"Bearer {token}"}) as client:
                retried = unanswered
                for save in retried:
                    save.retried = True
                    save.send(client)
                    assert save.status in (200, 201, 202), (save.kind, save.status, save.answer)
                answered = [s for s in saves if s.status is not None]
                wait_for_pending(client, answered)
                assert client.get("/ready").status_code == 200
                for save in answered:          # all of them published: public at once
                    assert client.get(f"/api/v1/documents/{save.doc_id}").status_code == 200, save.doc_id
            every.extend(answered)
            report.append(f"round {round_number}: killed after {stream.acknowledged} answered saves "
                          f"({len(created)} creates), during {unanswered[0].kind} "
                          f"'{unanswered[0].marker}'; left: {left}; recovery: {recovery or ['nothing pending']}; "
                          f"retried {len(retried)}, replayed {sum(s.replayed for s in retried)}")
            check_recovered(corpus, index, every)
        print("\nserver killed during saves:\n" + "\n".join(report))
    finally:
        server.stop()

    # A clean rebuild from the corpus gives the same documents as the recovered database ...
    recovered = snapshot(corpus, index)
    kb = KnowledgeBase(settings_for(corpus, tmp_path / "clean"))
    ingest(kb, corpus)
    kb.store.close()
    rebuilt = snapshot(corpus, tmp_path / "clean")
    assert len(rebuilt["documents"]) == len(SAMPLE) + sum(s.kind in ("create", "upload") for s in every)
    assert differences(recovered, rebuilt, parts=("documents", "chunks", "vectors")) == []
    # ... and after the next full ingest (which brings the lexicon of live saves up to date and
    # finds nothing else to do) the same FTS rows and vocabulary too.
    kb = KnowledgeBase(settings_for(corpus, index))
    report = ingest(kb, corpus)
    kb.store.close()
    assert report.added == report.updated == report.removed == [] and len(report.unchanged) == len(rebuilt["documents"])
    assert differences(snapshot(corpus, index), rebuilt) == []


def check_recovered(corpus: Path, index: Path, answered: list[Save]) -> None:
    """After a crash, the restart and the client's retries."""
    kb = KnowledgeBase(settings_for(corpus, index))
    try:
        kb.open_vectors(repair=False)           # the index the server saved, not a repaired copy
        consistent(kb)
        db = kb.store.db
        assert db.execute("SELECT count(*) FROM revisions WHERE state = 'pending'").fetchone()[0] == 0
        assert db.execute("SELECT count(*) FROM pending_files").fetchone()[0] == 0
        documents, rejected = load_corpus(corpus)
        assert rejected == [], [f"{e.path}: {e.reason}" for e in rejected]
        stored = kb.store.document_states()
        assert sorted(d.id for d in documents) == sorted(stored)          # no orphan files, none missing
        for document in documents:
            assert stored[document.id]["content_hash"] == document.content_hash, document.id
            assert stored[document.id]["source_path"] == document.source_path, document.id
        titles = Counter(r[0] for r in db.execute("SELECT title FROM documents").fetchall())
        assert [t for t, n in titles.items() if n > 1] == []                # no duplicate from a retry
        assert [i for i in stored if i.endswith("-2")] == []
        last_edit: dict[str, Save] = {}
        for save in answered:
            row = kb.store.get_document(save.doc_id)
            assert row is not None, (save.kind, save.doc_id)
            assert row["title"] == save.title, (row["title"], save.title)
            if save.kind == "upload":
                text = " ".join(c.text for c in kb.store.chunks_of(save.doc_id))
                assert "Solceller" in text or "Laddinfrastruktur" in text
            else:
                last_edit[save.doc_id] = save
        for doc_id, save in last_edit.items():
            assert save.marker in kb.store.get_document(doc_id)["body"], (doc_id, save.marker)
    finally:
        kb.store.close()


# -- 3. kill -9 of one of two `kunskap serve` replicas on PostgreSQL during saves ---------------
def pg_contents(kb: KnowledgeBase) -> dict[str, tuple[str, list[str]]]:
    """doc id -> (content hash, chunk texts in order), from the PostgreSQL store."""
    return {doc_id: (state["content_hash"], [c.text for c in kb.store.chunks_of(doc_id)])
            for doc_id, state in kb.store.document_states().items()}


def check_pg_recovered(corpus: Path, url: str, tmp_path: Path, answered: list[Save], killed: Save) -> str:
    """After the killed replica's restart: documents, chunks, lexical rows and vectors agree with
    each other and with the corpus files; the killed save is all there (revision done) or not at
    all (aborted, its files put back); nothing is pending. Returns what became of the killed save."""
    import psycopg

    kb = KnowledgeBase(Settings(corpus=corpus, index=tmp_path / "check", model="hashing", database_url=url))
    try:
        kb.open_vectors(repair=False)
        chunk_ids = kb.store.chunk_ids()
        assert chunk_ids and sorted(kb.vectors.ids().tolist()) == chunk_ids
        with psycopg.connect(url) as conn:
            lexical = [r[0] for r in conn.execute("SELECT chunk_id FROM lexical_rows ORDER BY chunk_id")]
            assert conn.execute("SELECT count(*) FROM pending_files").fetchone()[0] == 0
            states = dict(conn.execute("SELECT id, state FROM revisions").fetchall())
        assert lexical == chunk_ids
        assert "pending" not in states.values(), states
        assert pg_contents(kb) == corpus_contents(corpus)       # the files and the database say the same
        titles = Counter(d["title"] for d in kb.store.document_titles())
        assert [t for t, n in titles.items() if n > 1] == []    # no save stored twice by a retry
        stored = kb.store.document_states()
        for save in answered:
            row = kb.store.get_document(save.doc_id)
            assert row is not None and row["title"] == save.title, (save.kind, save.doc_id)
        for doc_id in {s.doc_id for s in answered if s.kind == "edit"}:
            last = [s for s in answered if s.doc_id == doc_id and s.kind == "edit"][-1]
            assert last.marker in kb.store.get_document(doc_id)["body"] or killed.doc_id == doc_id
        # The interrupted save, found by its unique text: in the database and the files together,
        # with a finished revision, or in neither.
        documents = kb.store.get_documents(list(stored))
        holding = [d for d, row in documents.items()   # an upload's marker is in its title, others' in the text
                   if killed.marker in f"{row['title']} {' '.join((row['body'] or '').split())}"]
        in_files = [p for p in corpus.rglob("*") if p.is_file() and p.suffix in (".md", ".yml")
                    and killed.marker in p.read_text("utf-8", "replace")]
        if holding:
            (doc_id,) = holding
            (revision,) = [r for r in kb.store.revisions_of(doc_id) if r["state"] == "done"][:1]
            assert in_files, "in the database but not in the files"
            return f"rolled forward ({doc_id}, revision {revision['id']} done)"
        assert in_files == [], [str(p) for p in in_files]
        return "rolled back (not in the database, not in the files)"
    finally:
        kb.store.close()


def test_kill_9_of_a_postgres_replica_during_a_save_loses_nothing(tmp_path, postgres_url):
    """Two `kunskap serve` replicas on one PostgreSQL and one shared corpus folder. Saves go
    through the first; it is killed with SIGKILL within a save. The second keeps answering
    searches (no error) and takes saves at once (the dead replica's advisory lock went with
    its connection); the first, restarted, rolls the journalled save forward or back, and the
    database, the files and the vectors agree."""
    rng = random.Random(SEED + 2)
    corpus = tmp_path / "corpus"
    token, pdf = staffed_sample(corpus, Settings(corpus=corpus, index=tmp_path / "setup", model="hashing",
                                                 database_url=postgres_url), tmp_path)

    # No rate limit: one test client sends every search and save, from one address.
    env = dict(KUNSKAP_CORPUS=corpus, KUNSKAP_MODEL="hashing", KUNSKAP_DATABASE_URL=postgres_url,
               KUNSKAP_RATE_LIMIT=0)
    first = Server(process_env(KUNSKAP_INDEX=tmp_path / "index-a", **env), tmp_path / "serve-a.log")
    second = Server(process_env(KUNSKAP_INDEX=tmp_path / "index-b", **env), tmp_path / "serve-b.log")
    editable = [{"id": name[:-3], "title": title, "organisation": organisation}
                for name, (title, organisation, _, _) in SAMPLE.items() if organisation in ORGANISATIONS]
    every: list[Save] = []
    report = []
    failures, searched, stop_searching = [], [0], threading.Event()

    def search_the_second(base: str) -> None:
        with httpx.Client(base_url=base, timeout=30) as client:
            while not stop_searching.is_set():
                answer = client.get("/api/v1/search", params={"q": rng.choice(OBJECTS), "mode": "hybrid"})
                searched[0] += 1
                if answer.status_code != 200:
                    failures.append((answer.status_code, answer.text[:200]))
                time.sleep(0.02)

    try:
        base = first.start()
        second_base = second.start()
        searcher = threading.Thread(target=search_the_second, args=(second_base,), daemon=True)
        searcher.start()
        for round_number in range(3):
            saves = plan_saves(rng, round_number, editable, pdf, count=30)
            stream = Stream(base, token, saves)
            kill_within_a_save(first, stream, rng.randint(3, 6), lambda: SaveWatch.postgres(postgres_url),
                               lambda mean: 0 if round_number == 0 else rng.uniform(0, mean))
            (killed,) = [s for s in saves if s.sent and s.status is None]

            # The other replica saves at once: the dead one's writer lock was released with it.
            with httpx.Client(base_url=second_base, timeout=30,
                              headers={"Authorization": f"Bearer {token}"}) as client:
                marker = f"andrarepliken{round_number}"
                saved = client.post("/api/v1/documents", json={
                    "title": f"Sparat på den andra repliken {round_number}", "organisation": "Borås stad",
                    "body": f"## Bakgrund\nBorås byggde laddplatser, {marker}.\n", "status": "published",
                    "confirm_duplicates": True})
                assert saved.status_code == 201, saved.text
                found = client.get("/api/v1/search", params={"q": marker, "mode": "lexical"}).json()["results"]
                assert [hit["id"] for hit in found] == [saved.json()["id"]]

            base = first.start()          # recovery of the journalled save runs at start-up
            answered = [s for s in saves if s.status is not None]
            every.extend(answered)
            outcome = check_pg_recovered(corpus, postgres_url, tmp_path, every, killed)
            if killed.kind == "edit" and outcome.startswith("rolled forward"):
                every.append(killed)      # its text is now the document's, as if it had been answered
            with httpx.Client(base_url=base, timeout=60, headers={"Authorization": f"Bearer {token}"}) as client:
                if killed.kind != "edit":     # retried with its Idempotency-Key: once, not twice
                    killed.send(client)
                    assert killed.status in (200, 201, 202), (killed.status, killed.answer)
                    every.append(killed)
                assert client.get("/ready").json()["status"] == "ready"
            check_pg_recovered(corpus, postgres_url, tmp_path, every, killed)
            report.append(f"round {round_number}: killed during {killed.kind} '{killed.marker}' after "
                          f"{stream.acknowledged} answered saves: {outcome}")
        stop_searching.set()
        searcher.join(30)
        print("\nreplica killed during saves:\n" + "\n".join(report) + f"\n{searched[0]} searches on the other")
        assert searched[0] > 0 and failures == []
        with httpx.Client(base_url=second_base, timeout=30) as client:
            ready = client.get("/ready").json()
            assert ready["status"] == "ready" and ready["chunks"] == ready["vectors"], ready
    finally:
        stop_searching.set()
        first.stop()
        second.stop()
