"""Backup and restore (issue 13 §5): consistent under live writes, checked before restoring,
and a restored knowledge base serves the same results."""

from __future__ import annotations

import json
import threading

import pytest
from click.testing import CliRunner

from kunskap.accounts import Accounts
from kunskap.backup import BACKUP_MANIFEST, BackupError, backup, restore, verify
from kunskap.cli import cli
from kunskap.curation import Curator
from kunskap.ingest import ingest
from kunskap.knowledgebase import KnowledgeBase
from kunskap.search import Searcher, SearchRequest

from .test_curation import BODY, NEW

QUERIES = ["cykelpendling", "biogasbussar", "energifattigdom", "lastcyklar hemtjänst"]


def results(kb):
    searcher = Searcher(kb)
    return {q: [(h.doc_id, h.score) for h in searcher.search(SearchRequest(q)).hits] for q in QUERIES}


def test_backup_under_live_writes_restores_into_a_consistent_knowledge_base(corpus, kb_factory, tmp_path):
    kb = kb_factory(corpus)
    ingest(kb, corpus)
    Accounts(kb.store).add_user("anna", "ett långt lösenord 123")
    curator = Curator(kb)
    stop = threading.Event()
    saved = []

    def edits():
        n = 0
        while not stop.is_set() and n < 40:
            result = curator.save_case_study({**NEW, "title": f"Lastcyklar i hemtjänsten {n}"}, BODY + f"\n\nRunda {n}.",
                                             "anna", confirm_duplicates=True)
            saved.append(result.doc_id)
            n += 1

    writer = threading.Thread(target=edits)
    writer.start()
    try:
        while len(saved) < 3:
            pass
        manifest = backup(kb, tmp_path / "kopia")
    finally:
        stop.set()
        writer.join()
    assert manifest["counts"]["users"] == 1 and manifest["counts"]["documents"] >= 5 + 3
    restore(tmp_path / "kopia", tmp_path / "c2", tmp_path / "i2")
    copy = kb_factory(tmp_path / "c2", index=tmp_path / "i2")
    copy.open_vectors()
    # Every document in the restored database has its file, with the same content, and back.
    states = copy.store.document_states()
    assert len(states) == manifest["counts"]["documents"]
    from kunskap.loaders import load_file
    for doc_id, state in states.items():
        assert load_file(tmp_path / "c2" / state["source_path"], tmp_path / "c2").content_hash == state["content_hash"]
    files = {p.relative_to(tmp_path / "c2").as_posix() for p in (tmp_path / "c2").rglob("*.md")}
    assert files == {s["source_path"] for s in states.values()}
    assert sorted(copy.vectors.ids().tolist()) == sorted(copy.store.chunk_ids())
    assert copy.store.pending_revisions() == [] and Accounts(copy.store).authenticate("anna", "ett långt lösenord 123")


def test_a_restored_backup_serves_identical_results(corpus, kb_factory, tmp_path):
    kb = kb_factory(corpus)
    ingest(kb, corpus)
    Curator(kb).save_case_study(NEW, BODY, "anna")
    runner = CliRunner()
    made = runner.invoke(cli, ["backup", str(tmp_path / "kopia"), "--corpus", str(corpus),
                               "--index", str(kb.settings.index), "--model", "hashing"])
    assert made.exit_code == 0, made.output
    assert "6 dokument" in made.output
    done = runner.invoke(cli, ["restore", str(tmp_path / "kopia"), "--corpus", str(tmp_path / "c2"),
                               "--index", str(tmp_path / "i2")])
    assert done.exit_code == 0, done.output
    copy = kb_factory(tmp_path / "c2", index=tmp_path / "i2")
    copy.open_vectors()
    assert results(copy) == results(kb) and results(kb)["lastcyklar hemtjänst"]
    assert [r["action"] for r in Curator(copy).revisions("vaxjo-lastcyklar-i-hemtjansten-i-vaxjo")] == ["create"]


def test_a_backup_holds_the_vector_journal_and_restores_without_a_rebuild(corpus, kb_factory, tmp_path,
                                                                         monkeypatch):
    monkeypatch.setattr("kunskap.vectors.JOURNAL_SHARE", 100.0)   # a tiny base: the save goes to the journal
    kb = kb_factory(corpus)
    ingest(kb, corpus)
    Curator(kb).save_case_study(NEW, BODY, "anna")
    from kunskap.vectors import read_manifest

    journal = read_manifest(kb.settings.index).journal_file
    assert journal
    manifest = backup(kb, tmp_path / "kopia")
    assert f"index/{journal}" in manifest["files"]
    restore(tmp_path / "kopia", tmp_path / "c2", tmp_path / "i2")
    copy = kb_factory(tmp_path / "c2", index=tmp_path / "i2", read_only=True)
    copy.open_vectors()                      # read-only: nothing rebuilt, base + journal read
    assert sorted(copy.vectors.ids().tolist()) == sorted(copy.store.chunk_ids())
    assert results(copy) == results(kb)


def test_a_damaged_or_incomplete_backup_is_refused_and_nothing_is_written(corpus, kb_factory, tmp_path):
    kb = kb_factory(corpus)
    ingest(kb, corpus)
    backup(kb, tmp_path / "kopia")
    with pytest.raises(BackupError, match="inte tom"):
        backup(kb, tmp_path / "kopia")
    (tmp_path / "kopia" / "corpus" / "lund-cykel.md").write_text("ändrad", "utf-8")
    with pytest.raises(BackupError, match="lund-cykel.md stämmer inte med sin kontrollsumma"):
        restore(tmp_path / "kopia", tmp_path / "c2", tmp_path / "i2")
    assert not (tmp_path / "c2").exists() and not (tmp_path / "i2").exists()
    (tmp_path / "kopia" / "corpus" / "lund-cykel.md").unlink()
    with pytest.raises(BackupError, match="lund-cykel.md saknas"):
        verify(tmp_path / "kopia")
    (tmp_path / "kopia" / BACKUP_MANIFEST).write_text("{", "utf-8")
    with pytest.raises(BackupError, match="skadad"):
        verify(tmp_path / "kopia")
    with pytest.raises(BackupError, match="ingen säkerhetskopia"):
        verify(tmp_path)
    # Into a folder that already holds a knowledge base: refused.
    backup(kb, tmp_path / "kopia2")
    with pytest.raises(BackupError, match="inte tom"):
        restore(tmp_path / "kopia2", corpus, tmp_path / "i3")
    assert json.loads((tmp_path / "kopia2" / BACKUP_MANIFEST).read_text())["counts"]["documents"] == 5
