"""Chunking on hand-written Swedish documents: ~90-word chunks on heading, paragraph and sentence
boundaries, one page or slide per chunk, the embedded text (title – organisation + heading + text)
and CHUNKER_VERSION (recorded, honoured by ingest, refused by the index when it differs).

The expected chunks are worked out by hand from the rules in kunskap/chunking.py: a paragraph
up to 120 words stays whole, a longer one is cut on sentence ends into pieces of at most 90
words; pieces are packed until the next would pass 120 words, and each new chunk starts with
the previous chunk's last sentences (at most 15 words) as overlap."""

from __future__ import annotations

import hashlib
import json

import pytest

from kunskap.chunking import CHUNKER_VERSION, MAX_WORDS, OVERLAP_WORDS, chunk_document
from kunskap.documents import Document, Section
from kunskap.errors import IndexMismatchError
from kunskap.ingest import ingest
from kunskap.knowledgebase import KnowledgeBase
from kunskap.loaders import load_file
from kunskap.vectors import MANIFEST_FILE

from .conftest import write_case
from .files import make_pptx


def document(sections, title="Fossilfri fjärrvärme i Växjö", organisation="Växjö kommun") -> Document:
    return Document(id="vaxjo-fjarrvarme", title=title, organisation=organisation, kind="case-study",
                    source_path="vaxjo-fjarrvarme.md", content_hash="-", sections=sections)


def sentence(n: int) -> str:
    """Eight words, numbered so a chunk's first and last sentence can be named."""
    return f"Mening {n} handlar om värmeverket i södra Växjö."


def paragraph(first: int, end: int) -> str:
    return " ".join(sentence(n) for n in range(first, end))


def numbers(text: str) -> tuple[int, int]:
    """The numbers of the first and the last sentence in a chunk text."""
    words = text.split()
    marks = [int(words[i + 1]) for i, w in enumerate(words) if w == "Mening"]
    return marks[0], marks[-1]


def words(text: str) -> int:
    return len(text.split())


def test_a_short_document_is_one_chunk_across_its_headings():
    doc = document([Section(paragraph(0, 3), "Bakgrund"), Section(paragraph(3, 5), "Vad gjordes")])
    [chunk] = chunk_document(doc)                       # 24 + 16 words: far below 120
    assert chunk.order == 0 and chunk.heading == "Bakgrund" and chunk.page is None
    assert chunk.text == paragraph(0, 3) + "\n\n" + paragraph(3, 5)       # paragraphs kept apart
    assert chunk.embed_text == "Fossilfri fjärrvärme i Växjö – Växjö kommun\nBakgrund\n" + chunk.text


def test_chunks_end_on_paragraph_boundaries_with_one_sentence_of_overlap():
    # Four paragraphs of 64 words (8 sentences each), two per section. Two paragraphs (128)
    # would pass 120, so each chunk holds one paragraph plus the last sentence before it:
    # two sentences (16 words) would pass the 15-word overlap.
    doc = document([Section(paragraph(0, 8) + "\n\n" + paragraph(8, 16), "Bakgrund"),
                    Section(paragraph(16, 24) + "\n\n" + paragraph(24, 32), "Resultat")])
    chunks = chunk_document(doc)
    assert [numbers(c.text) for c in chunks] == [(0, 7), (7, 15), (15, 23), (23, 31)]
    assert [words(c.text) for c in chunks] == [64, 72, 72, 72]
    # A chunk is labelled with the section its own paragraph comes from, not the overlap's.
    assert [c.heading for c in chunks] == ["Bakgrund", "Bakgrund", "Resultat", "Resultat"]
    assert [c.order for c in chunks] == [0, 1, 2, 3]
    assert chunks[1].text == sentence(7) + "\n\n" + paragraph(8, 16)


def test_a_long_paragraph_is_cut_on_sentence_ends_with_å_ä_ö():
    # 15 sentences of 10 words that start with Å, Ä or Ö: the sentence splitter must see
    # those capitals as sentence starts. 150 words > 120, so the paragraph is cut into
    # 9 sentences (90 words, the most that fit) and 6; "t.ex. återvinning" is no sentence end.
    starts = ["Året", "Även", "Östra"]
    sentences = [f"{starts[n % 3]} nummer {n} var värmeverket i Växjö öppet för besök." for n in range(15)]
    sentences[4] = "Även nummer 4 gällde t.ex. återvinning av spillvärme vid verket."
    doc = document([Section(" ".join(sentences), "Så gick det till")])
    chunks = chunk_document(doc)
    assert [c.text for c in chunks] == [" ".join(sentences[:9]), sentences[8] + "\n\n" + " ".join(sentences[9:])]
    assert [words(c.text) for c in chunks] == [90, 70]
    assert [c.heading for c in chunks] == ["Så gick det till"] * 2


def test_a_list_without_full_stops_is_cut_into_90_word_pieces():
    items = " ".join(f"åtgärd{n}" for n in range(250))      # one "sentence" of 250 words
    chunks = chunk_document(document([Section(items, "Åtgärdslista")]))
    texts = [c.text.split() for c in chunks]
    # pieces of 90, 90 and 70 words; the 15-word overlap needs a sentence end, which a list has not
    assert [len(t) for t in texts] == [90, 90, 70]
    assert [w for t in texts for w in t] == items.split()   # nothing lost, nothing repeated


def test_mixed_paragraph_sizes_are_packed_up_to_120_words():
    # Paragraphs of 24, 88, 16, 192 (cut into 88 + 88 + 16), 8 and 88 words. Packing:
    # 24+88 | 8+16+88 | 8+88+16+8 (exactly 120 still fits) | 8+88.
    body = "\n\n".join(paragraph(a, b) for a, b in ((0, 3), (3, 14), (14, 16), (16, 40), (40, 41), (41, 52)))
    chunks = chunk_document(document([Section(body, "Bakgrund")]))
    sizes = [words(c.text) for c in chunks]
    assert sizes == [112, 112, 120, 96]
    assert max(sizes) <= MAX_WORDS + OVERLAP_WORDS
    assert [numbers(c.text) for c in chunks] == [(0, 13), (13, 26), (26, 40), (40, 51)]


def test_slides_are_never_mixed_and_long_slides_keep_their_number():
    # Slide 3 is one 240-word paragraph: pieces of 88, 88 and 64 words (11, 11, 8 sentences),
    # packed as 88 | 8 + 88 | 8 + 64. Slides 1 and 2 are small but stay chunks of their own.
    doc = document([Section(paragraph(0, 3), "Inledning", 1), Section(paragraph(3, 5), "Bakgrund", 2),
                    Section(paragraph(5, 35), "Resultat", 3)])
    chunks = chunk_document(doc)
    assert [(c.page, c.heading) for c in chunks] == [(1, "Inledning"), (2, "Bakgrund"), (3, "Resultat"),
                                                      (3, "Resultat"), (3, "Resultat")]
    assert [numbers(c.text) for c in chunks] == [(0, 2), (3, 4), (5, 15), (15, 26), (26, 34)]
    assert [words(c.text) for c in chunks] == [24, 16, 88, 96, 72]


def test_a_real_pptx_gives_one_chunk_per_slide_with_notes(tmp_path):
    path = make_pptx(tmp_path / "orebro-energidelning.pptx", [
        ("Energidelning i Örebro", "Hyresgäster delar solel från taken", "Talarnotis: fråga om elnätet"),
        ("Vad gjordes", "Ett gemensamt batteri och en app för förbrukningen", None),
        ("Lärdomar", "Börja med de boende; tekniken är den lätta delen", "Nämn Tamarinden"),
    ])
    (tmp_path / "orebro-energidelning.pptx.yml").write_text(
        "title: Energidelning i Örebro\norganisation: Örebro kommun\n", encoding="utf-8")
    chunks = chunk_document(load_file(path, tmp_path))
    assert [(c.page, c.heading) for c in chunks] == [(1, "Energidelning i Örebro"), (2, "Vad gjordes"), (3, "Lärdomar")]
    assert chunks[0].text == "Hyresgäster delar solel från taken\n\nTalarnotis: fråga om elnätet"
    # The first slide's title is the document title: not repeated in the embedded text.
    assert chunks[0].embed_text == "Energidelning i Örebro – Örebro kommun\n" + chunks[0].text
    assert chunks[2].embed_text == "Energidelning i Örebro – Örebro kommun\nLärdomar\n" + chunks[2].text


def test_markdown_headings_become_chunk_headings_not_text(tmp_path):
    path = write_case(tmp_path, "lulea-cykel.md", "Vintercykling i Luleå", "Luleå kommun", """
        ## Bakgrund
        Snö och kyla gör att få cyklar på vintern i Luleå.

        ## Åtgärder
        Kommunen plogar cykelvägarna först, före bilvägarna.
        """)
    [chunk] = chunk_document(load_file(path, tmp_path))
    assert chunk.heading == "Bakgrund" and "Bakgrund" not in chunk.text and "Åtgärder" not in chunk.text
    assert chunk.text == ("Snö och kyla gör att få cyklar på vintern i Luleå.\n\n"
                          "Kommunen plogar cykelvägarna först, före bilvägarna.")


@pytest.mark.parametrize("title, organisation, heading, head", [
    ("Fossilfri fjärrvärme i Växjö", "Växjö kommun", "Bakgrund", "Fossilfri fjärrvärme i Växjö – Växjö kommun\nBakgrund\n"),
    ("Fossilfri fjärrvärme i Växjö", "Växjö kommun", None, "Fossilfri fjärrvärme i Växjö – Växjö kommun\n"),
    ("Fossilfri fjärrvärme i Växjö", "okänd", "Bakgrund", "Fossilfri fjärrvärme i Växjö\nBakgrund\n"),   # unknown: left out
    ("Fossilfri fjärrvärme i Växjö", "", None, "Fossilfri fjärrvärme i Växjö\n"),       # e.g. an eval set's document
    ("", "", None, ""),
])
def test_embed_text_is_title_organisation_heading_then_text(title, organisation, heading, head):
    [chunk] = chunk_document(document([Section("Värmen kommer från flis och returträ.", heading)],
                                      title=title, organisation=organisation))
    assert chunk.text == "Värmen kommer från flis och returträ."
    assert chunk.embed_text == head + chunk.text


# Chunker output for one fixed document, by version. If this fails, the chunker's output has
# changed: bump CHUNKER_VERSION (so that existing indexes are refused and rebuilt) and add the
# new fingerprint here.
FINGERPRINTS = {2: "036ccef502697b1e98d0d20501e5cae3a4f8c442dccc902d183dec5694e7438c"}


def test_chunker_output_changes_only_with_a_new_chunker_version():
    doc = document([Section(paragraph(0, 3), "Inledning", 1), Section(paragraph(3, 40), "Resultat", 2),
                    Section("Året därpå kom en lista. Östra delen fick " + " ".join(f"punkt{n}" for n in range(130)),
                            "Lista", 3)])
    output = json.dumps([[c.order, c.text, c.heading, c.page, c.embed_text] for c in chunk_document(doc)],
                        ensure_ascii=False)
    assert FINGERPRINTS.get(CHUNKER_VERSION) == hashlib.sha256(output.encode()).hexdigest()


def test_ingest_rechunks_documents_from_another_chunker_version(corpus, kb_factory, counting_embedder):
    kb = kb_factory(corpus, embedder=counting_embedder)
    ingest(kb, corpus)
    embedded = len(counting_embedder.passages)
    assert {s["chunker_version"] for s in kb.store.document_states().values()} == {CHUNKER_VERSION}
    # As an older release would have left it: one document chunked by the previous version.
    kb.store.db.execute("UPDATE documents SET chunker_version = ? WHERE id = 'lund-cykel'", [CHUNKER_VERSION - 1])
    kb.store.db.conn.commit()
    report = ingest(kb, corpus)
    assert report.updated == ["lund-cykel"] and len(report.unchanged) == 4
    assert kb.store.document_states()["lund-cykel"]["chunker_version"] == CHUNKER_VERSION
    assert len(counting_embedder.passages) == embedded        # same chunks: vectors come from the cache


def test_an_index_from_another_chunker_version_is_refused_until_rebuilt(corpus, kb_factory, make_settings):
    kb = kb_factory(corpus)
    ingest(kb, corpus)
    manifest_path = kb.index_dir / MANIFEST_FILE
    manifest = json.loads(manifest_path.read_text())
    assert manifest["chunker_version"] == CHUNKER_VERSION
    manifest_path.write_text(json.dumps({**manifest, "chunker_version": CHUNKER_VERSION - 1}))
    other = KnowledgeBase(make_settings(corpus))
    with pytest.raises(IndexMismatchError, match=f"styckningsversion {CHUNKER_VERSION - 1}.*kunskap ingest --rebuild"):
        other.open_vectors()
    report = ingest(other, corpus, rebuild=True)
    assert len(report.added) == 5
    assert json.loads(manifest_path.read_text())["chunker_version"] == CHUNKER_VERSION
    other.store.close()
