"""Atomic writes: file modes and the clean-up of temp files a crash left behind."""

from __future__ import annotations

import os
import stat
import time

import pytest
from click.testing import CliRunner

from kunskap.cli import cli
from kunskap.files import atomic_write, remove_stale_temp_files


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def umask():
    def set_umask(value):
        previous.append(os.umask(value))
    previous: list[int] = []
    yield set_umask
    for value in reversed(previous):
        os.umask(value)


def test_new_files_follow_the_umask_and_existing_files_keep_their_mode(tmp_path, umask):
    umask(0o027)
    atomic_write(tmp_path / "ny.md", b"ny")
    assert mode(tmp_path / "ny.md") == 0o640                 # group-readable, as SQLite's own file
    umask(0o022)
    atomic_write(tmp_path / "ny2.md", b"ny")
    assert mode(tmp_path / "ny2.md") == 0o644
    existing = tmp_path / "befintlig.md"
    existing.write_bytes(b"gammal")
    existing.chmod(0o660)
    atomic_write(existing, b"ny text")
    assert existing.read_bytes() == b"ny text" and mode(existing) == 0o660
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def make_temp(folder, name, age_seconds):
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"halvt")
    then = time.time() - age_seconds
    os.utime(path, (then, then))
    return path


def test_only_stale_temp_files_of_our_own_pattern_are_removed(tmp_path):
    old = [make_temp(tmp_path, ".lund.md.ab12_x9z.tmp", 3600),
           make_temp(tmp_path / "fallstudier", ".vaxjo-buss.md.0a1b2c3d.tmp", 3600)]
    kept = [make_temp(tmp_path, ".lund.md.ab12cd34.tmp", 10),            # fresh: maybe a save in flight
            make_temp(tmp_path, ".lund.md.tmp", 3600),                    # not mkstemp's pattern
            make_temp(tmp_path, "lund.md.ab12cd34.tmp", 3600),            # not hidden
            make_temp(tmp_path, ".lund.md.AB12CD34.tmp", 3600),           # mkstemp is lower case
            make_temp(tmp_path, ".lund.md.ab12cd345.tmp", 3600),
            make_temp(tmp_path, ".lund.md.ab12cd34.tmpx", 3600),
            make_temp(tmp_path / ".git", ".HEAD.ab12cd34.tmp", 3600)]     # hidden folders are not ours
    os.symlink(tmp_path / "lund.md.ab12cd34.tmp", tmp_path / ".link.md.ab12cd34.tmp")
    removed = remove_stale_temp_files(tmp_path)
    assert sorted(removed) == sorted(old)
    assert not any(p.exists() for p in old) and all(p.exists() for p in kept)
    assert (tmp_path / ".link.md.ab12cd34.tmp").is_symlink()
    assert remove_stale_temp_files(tmp_path / "finns-inte") == []


def test_kunskap_ingest_cleans_the_corpus_and_index_folders_first(corpus, tmp_path):
    index = tmp_path / "idx"
    stale = [make_temp(corpus, ".vaxjo-buss.md.k2j4h5g6.tmp", 3600),
             make_temp(index, ".vectors.faiss.abcdefgh.tmp", 3600)]
    fresh = make_temp(corpus, ".lund-cykel.md.abcdefgh.tmp", 5)
    result = CliRunner().invoke(cli, ["ingest", str(corpus), "--index", str(index), "--model", "hashing", "--quiet"])
    assert result.exit_code == 0, result.output
    assert not any(p.exists() for p in stale) and fresh.exists()
    assert "2 kvarlämnade temporära filer" in result.output
