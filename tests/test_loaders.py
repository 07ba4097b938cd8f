"""Loading corpus files per CORPUS-FORMAT.md, including every rejection rule."""

from __future__ import annotations

import pytest

from kunskap.errors import DocumentError
from kunskap.ingest import load_corpus
from kunskap.loaders import load_file

from .conftest import write_case
from .files import make_docx, make_pdf, make_pptx, make_zip


def test_markdown_metadata_sections_and_extra_keys(tmp_path):
    path = write_case(tmp_path, "växjö-buss.md", "Bussar i Växjö", "Växjö kommun", """
        # Bakgrund
        Första **stycket** med [länk](https://x.se).

        ## Resultat
        - färre utsläpp
        - nöjda resenärer
        """, themes="[Kollektivtrafik, elbuss]", year=2021, published="2021-04-12", ansvarig_enhet="Miljö")
    doc = load_file(path, tmp_path)
    assert doc.id == "vaxjo-buss"   # default id: the file name, as a slug
    assert doc.title == "Bussar i Växjö" and doc.organisation == "Växjö kommun"
    assert doc.kind == "case-study" and doc.year == 2021 and doc.published == "2021-04-12"
    assert doc.tags == ["Kollektivtrafik", "elbuss"]
    assert doc.extra == {"ansvarig_enhet": "Miljö"}            # unknown keys kept
    assert [s.heading for s in doc.sections] == ["Bakgrund", "Resultat"]
    assert "Första stycket med länk." in doc.sections[0].text   # markup stripped for indexing
    assert "**stycket**" in doc.body                             # body kept for rendering


def test_pdf_text_per_page_with_sidecar(tmp_path):
    pdf = make_pdf(tmp_path / "lund-cykel.pdf", ["Cykelstaden Lund", "Fler cyklar på cykelvägarna i Lund"])
    (tmp_path / "lund-cykel.pdf.yml").write_text(
        "title: Cykel i Lund\norganisation: Lunds kommun\nthemes: [cykel]\nyear: 2020\n", encoding="utf-8")
    doc = load_file(pdf, tmp_path)
    assert doc.kind == "presentation" and doc.organisation == "Lunds kommun"
    assert [s.page for s in doc.sections] == [1, 2]
    assert "cykelvägarna" in doc.sections[1].text
    assert doc.curation_notes == []


def test_pptx_per_slide_with_notes_and_no_sidecar(tmp_path):
    path = make_pptx(tmp_path / "malmo.pptx", [
        ("Energifattigdom i Malmö", "Hushåll med små marginaler", "Talarnotis om hyresgäster"),
        ("Vad gjordes", "Rådgivning på flera språk", None),
    ], title="Rättvis omställning i Malmö")
    doc = load_file(path, tmp_path)
    assert doc.title == "Rättvis omställning i Malmö"       # from the file's own metadata
    assert doc.organisation == "okänd"
    assert "metadatafil (.yml) saknas" in doc.curation_notes
    assert [s.page for s in doc.sections] == [1, 2]
    assert "Talarnotis om hyresgäster" in doc.sections[0].text   # notes included
    assert doc.sections[1].heading == "Vad gjordes"


def test_docx_per_heading_section(tmp_path):
    path = make_docx(tmp_path / "rapport.docx", [("Bakgrund", "Klimatanpassning i Göteborg."),
                                                 ("Åtgärder", "Skyfallsplan och dagvatten.")])
    doc = load_file(path, tmp_path)
    assert doc.kind == "report"
    assert doc.title == "Bakgrund"   # first heading, no sidecar
    assert [s.heading for s in doc.sections] == ["Bakgrund", "Åtgärder"]


@pytest.mark.parametrize("content, reason", [
    ("---\norganisation: X kommun\n---\ntext\n", "obligatoriskt fält 'title' saknas"),
    ("---\ntitle: T\n---\ntext\n", "obligatoriskt fält 'organisation' saknas"),
    ("---\ntitle: [oavslutad\norganisation: X\n---\ntext\n", "ogiltig YAML"),
    ("bara text utan front matter\n", "front matter saknas"),
    ("---\ntitle: T\norganisation: X\nid: Ogiltigt Id\n---\ntext\n", "id 'Ogiltigt Id' är ogiltigt"),
    ("---\ntitle: T\norganisation: X\nyear: förra året\n---\ntext\n", "fältet 'year' ska vara ett årtal"),
    ("---\ntitle: T\norganisation: X\nkind: blogg\n---\ntext\n", "fältet 'kind'"),
    ("---\ntitle: T\norganisation: X\n---\n\n", "ingen text"),
])
def test_markdown_rejections_name_the_file_and_reason(tmp_path, content, reason):
    path = tmp_path / "fel.md"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(DocumentError) as info:
        load_file(path, tmp_path)
    assert info.value.path == "fel.md"
    assert reason in info.value.reason


def test_not_utf8_is_rejected(tmp_path):
    path = tmp_path / "latin1.md"
    path.write_bytes("---\ntitle: Växjö\norganisation: Växjö kommun\n---\nText\n".encode("latin-1"))
    with pytest.raises(DocumentError, match="inte UTF-8"):
        load_file(path, tmp_path)


def test_encrypted_and_damaged_and_disguised_files(tmp_path):
    encrypted = make_pdf(tmp_path / "hemlig.pdf", ["hemligt"], password="x")
    with pytest.raises(DocumentError, match="krypterad"):
        load_file(encrypted, tmp_path)
    damaged = tmp_path / "trasig.pptx"
    damaged.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(DocumentError, match="skadad"):
        load_file(damaged, tmp_path)
    disguised = tmp_path / "fejk.pdf"
    disguised.write_text("<html>inte en pdf</html>")
    with pytest.raises(DocumentError, match="inte en giltig PDF"):
        load_file(disguised, tmp_path)


def test_zip_path_traversal_and_bomb_are_rejected(tmp_path):
    evil = make_zip(tmp_path / "evil.docx", {"../../etc/x": b"x", "word/document.xml": b"<w/>"})
    with pytest.raises(DocumentError, match="otillåtna sökvägar"):
        load_file(evil, tmp_path)
    bomb = make_zip(tmp_path / "bomb.pptx", {"ppt/presentation.xml": b"\0" * 50_000_000})
    with pytest.raises(DocumentError, match="zip-bomb"):
        load_file(bomb, tmp_path)


def test_corpus_rejections_keep_the_rest(tmp_path):
    root = tmp_path / "c"
    write_case(root, "a.md", "A", "A kommun", "Text a", id="samma-id")
    write_case(root, "b/b.md", "B", "B kommun", "Text b", id="samma-id")
    write_case(root, "ok.md", "Ok", "C kommun", "Text c")
    (root / "README.md").write_text("# inte ett dokument")
    (root / "anteckning.txt").write_text("x")
    (root / "borta.pdf.yml").write_text("title: x\n")
    documents, rejected = load_corpus(root)
    assert [d.id for d in documents] == ["ok"]
    messages = {e.path: e.reason for e in rejected}
    assert "b/b.md" in messages["a.md"] and "a.md" in messages["b/b.md"]   # both files named
    assert "stöds inte" in messages["anteckning.txt"]
    assert "metadatafil utan dokument" in messages["borta.pdf.yml"]


@pytest.mark.parametrize("line, field", [
    ('title: "Rubrik\\0med NUL"', "title"), ('title: "Två\\nrader"', "title"),
    ('summary: "Klocka\\a"', "summary"), ('organisation: "X\\e[2J kommun"', "organisation"),
    ('themes: ["cykel\\0"]', "themes"), ('contact: "a\\tb"', "contact"),
])
def test_control_characters_in_metadata_are_rejected(tmp_path, line, field):
    meta = {"title": "title: T", "organisation": "organisation: X kommun"}
    meta[line.split(":")[0]] = line
    path = tmp_path / "kontroll.md"
    path.write_text("---\n" + "\n".join(meta.values()) + "\n---\nText med\ttabb och\nradbrytning.\n", encoding="utf-8")
    with pytest.raises(DocumentError) as info:
        load_file(path, tmp_path)
    assert info.value.path == "kontroll.md" and f"'{field}'" in info.value.reason and "kontrolltecken" in info.value.reason
    sidecar_doc = make_pdf(tmp_path / "bilder.pdf", ["Text på sidan"])
    (tmp_path / "bilder.pdf.yml").write_text("\n".join(meta.values()) + "\n", encoding="utf-8")
    with pytest.raises(DocumentError, match="kontrolltecken"):
        load_file(sidecar_doc, tmp_path)


def test_a_title_taken_from_a_file_loses_its_control_characters():
    from kunskap.documents import Section, build_document

    doc = build_document("x.pdf", "x.pdf", {}, [Section("text")], "h", default_id="x", default_kind="presentation",
                         default_title="Rubrik\x00ur\x07 PDF\nmetadata")
    assert doc.title == "Rubrik ur PDF metadata"
