"""Bulk import of spreadsheets: XLSX (merged cells, formulas) and CSV (UTF-8 with and without
BOM, cp1252), column mapping guessed from the headers, row-level Swedish errors, drafts through
the Curator, and a re-import that does not duplicate."""

from __future__ import annotations

import io
import json
import re
import time
import zipfile

import pytest

from kunskap.curation import Curator
from kunskap.curation.spreadsheet import MAX_ROWS, guess_mapping, read_table
from kunskap.errors import FormError
from kunskap.ingest import ingest

HEADERS = ["Projektnamn", "Kommun", "År", "Kort beskrivning", "Tema", "Länk"]
ROWS = [
    ["Solceller på förskolor", "Växjö kommun", "2022", "Förskolornas tak fick solceller och barnen följer elproduktionen.",
     "förnybar energi", "https://vaxjo.se/sol"],
    ["Lånecyklar för nyinflyttade", "Lund", "2021", "Nyinflyttade får låna en lastcykel i två veckor.", "cykel", ""],
    ["Ett exempel från ingenstans", "Atlantis", "2020", "Text.", "", ""],
    ["Vegetariska måltider i äldreomsorgen", "Malmö stad", "tjugohundra", "Mer växtbaserat i äldreomsorgens kök.",
     "mat", ""],
]


def xlsx_bytes(rows, merge=None, formulas=None, cached=None) -> bytes:
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    for ref, formula in (formulas or {}).items():
        sheet[ref] = formula
    if merge:
        sheet.merge_cells(merge)
    out = io.BytesIO()
    book.save(out)
    data = out.getvalue()
    if not cached:
        return data
    # openpyxl writes formulas without the value Excel would have saved; add it, as Excel does.
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as dest:
        for item in src.infolist():
            content = src.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                text = content.decode()
                for ref, value in cached.items():
                    text = re.sub(rf'(<c r="{ref}"[^>]*>)<f>([^<]*)</f><v\s*/?>(</v>)?', rf"\1<f>\2</f><v>{value}</v>", text)
                content = text.encode()
            dest.writestr(item, content)
    return out.getvalue()


def csv_bytes(rows, encoding="utf-8", delimiter=";") -> bytes:
    return "\r\n".join(delimiter.join(f'"{c}"' if delimiter in c else c for c in row) for row in rows).encode(encoding)


@pytest.fixture
def curator(corpus, kb_factory):
    kb = kb_factory(corpus)
    ingest(kb, corpus)
    return Curator(kb)


def test_mapping_is_guessed_from_swedish_and_english_headers():
    assert guess_mapping(HEADERS) == {"title": 0, "organisation": 1, "year": 2, "summary": 3, "body": None,
                                      "themes": 4, "source_url": 5, "contact": None}
    english = guess_mapping(["Title", "Municipality", "Year", "Description", "Tags", "URL"])
    assert english["title"] == 0 and english["organisation"] == 1 and english["body"] == 3 and english["source_url"] == 5


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp1252", "latin-1"])
def test_csv_encodings_keep_swedish_letters(encoding):
    table = read_table("exempel.csv", csv_bytes([HEADERS, *ROWS], encoding))
    assert table.headers == HEADERS
    assert table.rows[0][0] == "Solceller på förskolor" and table.rows[3][0].startswith("Vegetariska måltider i äldre")


def test_preview_reports_row_errors_naming_row_and_column_and_stores_nothing(curator):
    count = curator.kb.store.count_documents()
    result = curator.import_preview("exempel.csv", csv_bytes([HEADERS, *ROWS]))
    assert result.counts()["rows"] == 4 and result.counts()["valid"] == 2
    errors = result.errors
    assert "Rad 4, kolumn ”Kommun”: Välj en kommun eller region ur listan." in errors
    assert any(e.startswith("Rad 5, kolumn ”År”:") for e in errors)
    assert result.rows[1].values["organisation"] == "Lunds kommun"       # "Lund" resolved from the list
    assert result.rows[0].values["themes"] == ["fornybar-energi"]
    assert curator.kb.store.count_documents() == count


def test_import_makes_drafts_and_a_reimport_does_not_duplicate(curator):
    data = csv_bytes([HEADERS, *ROWS], "utf-8-sig")
    count = curator.kb.store.count_documents()
    first = curator.import_rows("exempel.csv", data, "anna")
    imported = [r for r in first.rows if r.outcome == "imported"]
    assert len(imported) == 2
    for row in imported:
        doc = curator.document(row.doc_id)
        assert doc["status"] == "draft" and doc["kind"] == "case-study"
    assert curator.document(imported[0].doc_id)["source_url"] == "https://vaxjo.se/sol"
    assert curator.kb.store.count_documents() == count + 2
    again = curator.import_rows("exempel-igen.csv", data, "anna")
    assert [r.outcome for r in again.rows] == ["exists", "exists", "error", "error"]
    assert curator.kb.store.count_documents() == count + 2
    # The same row twice in one file is imported once.
    twice = curator.import_preview("dubbel.csv", csv_bytes([HEADERS, ROWS[1], ["Ny rad om buss", "Umeå", "2020",
                                                                               "Elbussar i Umeå.", "", ""],
                                                            ["Ny rad om buss", "Umeå", "2020", "Elbussar.", "", ""]]))
    assert [r.outcome for r in twice.rows] == ["exists", "valid", "error"]
    assert "samma rubrik och organisation som rad 3" in twice.rows[2].errors[0]


def test_xlsx_merged_cells_and_formulas(curator):
    rows = [HEADERS,
            ["Solceller på förskolor", "Växjö kommun", None, "Förskolornas tak fick solceller.", "", ""],
            ["Laddplatser vid förskolor", None, None, "Personalen kan ladda elbilen vid förskolan.", "", ""],
            ["Energirådgivning i hyreshus", "Malmö stad", None, "Rådgivning på flera språk.", "", ""]]
    data = xlsx_bytes(rows, merge="B2:B3", formulas={"C2": "=2000+22", "C3": "=2000+23", "C4": "=C2+1"},
                      cached={"C2": 2022, "C3": 2023})
    result = curator.import_preview("exempel.xlsx", data)
    assert [r.values["organisation"] for r in result.rows] == ["Växjö kommun", "Växjö kommun", "Malmö stad"]
    assert [r.values["year"] for r in result.rows[:2]] == ["2022", "2023"]
    assert result.rows[2].errors and result.rows[2].errors[0].startswith("Rad 4, kolumn ”År”: formeln har inget sparat värde")
    assert result.counts()["valid"] == 2


def test_damaged_or_wrong_files_are_refused_clearly(curator):
    with pytest.raises(FormError) as caught:
        curator.import_preview("exempel.xlsx", b"inte en zip")
    assert "XLSX" in caught.value.errors["file"]
    with pytest.raises(FormError, match="XLSX- eller CSV"):
        curator.import_preview("exempel.pdf", b"%PDF-1.4")
    with pytest.raises(FormError, match="tom"):
        curator.import_preview("exempel.csv", b"")
    with pytest.raises(FormError) as caught:
        curator.import_preview("exempel.csv", csv_bytes([["A", "B"], ["1", "2"]]))
    assert "rubrik och kommun eller region" in caught.value.errors["mapping"]


def test_ten_thousand_rows_are_previewed_and_more_are_refused(curator):
    rows = [HEADERS] + [[f"Exempel nummer {i}", "Växjö kommun", "2020", f"Beskrivning {i}.", "", ""]
                        for i in range(MAX_ROWS)]
    started = time.perf_counter()
    result = curator.import_preview("stor.csv", csv_bytes(rows))
    assert result.counts()["rows"] == MAX_ROWS and result.counts()["valid"] == MAX_ROWS
    assert time.perf_counter() - started < 60
    rows.append(["En rad för mycket", "Växjö kommun", "2020", "x", "", ""])
    with pytest.raises(FormError, match="högst 10 000"):
        curator.import_preview("for-stor.csv", csv_bytes(rows))


def test_rows_are_saved_in_batches_one_index_update_each_with_a_revision_per_document(curator):
    """One save per row re-counted the vocabulary and re-wrote the vector index each time (600
    rows took 144 s, growing with the square of the rows); a batch is one journalled update."""
    import random

    pick = random.Random(7)
    words = "cykel buss mat energi sol vind skog vatten laddning biogas skola kök avfall bygg trä väg tåg hamn".split()
    rows = [[" ".join(pick.sample(words, 5)).capitalize() + f" {pick.randrange(10**6)}", "Växjö kommun", "2021",
             " ".join(pick.sample(words, 8)) + ".", "", ""] for _ in range(40)]
    kb = curator.kb
    before, documents = kb.generation, kb.store.count_documents()
    result = curator.import_rows("manga.csv", csv_bytes([HEADERS, *rows]), "anna")
    imported = [r for r in result.rows if r.outcome == "imported"]
    assert len(imported) == 40 and kb.store.count_documents() == documents + 40
    assert kb.generation == before + 1                      # one vector index swap for the batch
    for row in imported[:3] + imported[-3:]:
        (revision,) = kb.store.revisions_of(row.doc_id)
        assert revision["action"] == "create" and revision["state"] == "done" and revision["username"] == "anna"
        assert curator.document(row.doc_id)["status"] == "draft"
    assert kb.store.pending_revisions() == [] and kb.consistency(max_age=0) == []
    assert len({r.doc_id for r in imported}) == 40


def test_a_row_like_an_earlier_row_of_the_same_batch_is_not_imported(curator):
    rows = [["Solceller på alla förskolor i kommunen", "Växjö kommun", "2022", "Solceller på taken.", "", ""],
            ["Solceller på alla förskolorna i kommunen", "Lunds kommun", "2022", "Solceller på taken.", "", ""]]
    result = curator.import_rows("lika.csv", csv_bytes([HEADERS, *rows]), "anna")
    assert [r.outcome for r in result.rows] == ["imported", "duplicate"]
    assert result.rows[1].doc_id == result.rows[0].doc_id
    assert "liknar ”Solceller på alla förskolor i kommunen”" in result.rows[1].errors[0]


# -- through the web ---------------------------------------------------------------------------
from bs4 import BeautifulSoup  # noqa: E402

from .test_curation_web import csrf_of, login  # noqa: E402


def test_import_pages_preview_change_mapping_and_import(client, app_kb):  # noqa: F811
    kb = app_kb[1]
    login(client)
    page = client.get("/kurera/importera")
    assert page.status_code == 200
    csrf = csrf_of(page.text)
    count = kb.store.count_documents()
    data = csv_bytes([HEADERS, *ROWS], "cp1252")
    r = client.post("/kurera/importera", data={"csrf": csrf}, files={"file": ("exempel.csv", data, "text/csv")})
    assert r.status_code == 200
    soup = BeautifulSoup(r.text, "html.parser")
    assert soup.select_one("#map-organisation option[selected]").text == "Kommun"
    assert soup.select_one("#map-summary option[selected]").text == "Kort beskrivning"
    cells = [[c.text.strip() for c in tr.select("th, td")] for tr in soup.select("table.import-preview tbody tr")]
    assert cells[0][:3] == ["2", "OK", "Solceller på förskolor"] and cells[2][1] == "Fel"
    assert "Rad 4, kolumn ”Kommun”: Välj en kommun eller region ur listan." in soup.select_one(".row-errors").text
    assert kb.store.count_documents() == count
    action = soup.select_one("form[action^='/kurera/importera/']")["action"]
    mapping = {s["name"]: (s.select_one("option[selected]") or {"value": ""})["value"] for s in soup.select("select")}
    # Change the mapping: no theme column any more.
    r = client.post(action, data={"csrf": csrf, **mapping, "map_themes": "", "action": "preview"})
    soup = BeautifulSoup(r.text, "html.parser")
    assert soup.select_one("#map-themes option[selected]") is None or soup.select_one("#map-themes option[selected]")["value"] == ""
    assert "Teman" not in [th.text for th in soup.select("table.import-preview thead th")]
    r = client.post(action, data={"csrf": csrf, **mapping, "action": "import"})
    soup = BeautifulSoup(r.text, "html.parser")
    assert "Importen är klar" in soup.text and "2 importerade som utkast" in soup.select_one(".import-counts").text
    assert kb.store.count_documents() == count + 2
    # The staged file is gone after the import; a replay is refused clearly and stores nothing.
    r = client.post(action, data={"csrf": csrf, **mapping, "action": "import"})
    assert r.status_code == 400 and "Ladda upp den igen" in r.text
    assert client.post(action, data={"csrf": "fel", "action": "import"}).status_code == 403
    r = client.post("/kurera/importera", data={"csrf": csrf}, files={"file": ("x.xlsx", b"trasig", "application/zip")})
    assert r.status_code == 400 and "XLSX" in BeautifulSoup(r.text, "html.parser").select_one(".form-errors").text


def test_import_api_dry_run_then_apply(client, app_kb):  # noqa: F811
    kb = app_kb[1]
    auth = {"Authorization": f"Bearer {app_kb[2]}"}
    data = xlsx_bytes([HEADERS, *ROWS])
    files = {"file": ("exempel.xlsx", data, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")}
    assert client.post("/api/v1/imports", files=files).status_code == 401
    count = kb.store.count_documents()
    r = client.post("/api/v1/imports", files=files, headers=auth)
    assert r.status_code == 200
    answer = r.json()
    assert answer["dry_run"] and answer["mapping"]["organisation"] == 1 and answer["counts"]["valid"] == 2
    assert answer["rows"][2]["errors"] == ["Rad 4, kolumn ”Kommun”: Välj en kommun eller region ur listan."]
    assert kb.store.count_documents() == count
    r = client.post("/api/v1/imports", files=files, data={"dry_run": "false"}, headers=auth)
    assert r.status_code == 200 and r.json()["counts"]["imported"] == 2
    ids = [row["id"] for row in r.json()["rows"] if row["outcome"] == "imported"]
    assert all(kb.store.get_document(i)["status"] == "draft" for i in ids) and len(ids) == 2
    r = client.post("/api/v1/imports", files=files, data={"dry_run": "false"}, headers=auth)
    assert r.json()["counts"]["imported"] == 0 and r.json()["counts"]["exists"] == 2
    assert kb.store.count_documents() == count + 2
    r = client.post("/api/v1/imports", files=files, data={"mapping": "{\"title\": 0}"}, headers=auth)
    assert r.status_code == 400 and "mapping" in r.json()["error"]["fields"]
    r = client.post("/api/v1/imports", files=files, data={"mapping": "inte json"}, headers=auth)
    assert r.status_code == 400 and r.json()["error"]["parameter"] == "mapping"


# -- a big import in the background, followed on a status page -------------------------------------
def many_rows(count: int, seed: int = 11) -> list[list[str]]:
    """`count` valid rows that the duplicate guard does not take for one another: each has its
    own made-up words (a shared vocabulary makes titles alike once there are hundreds)."""
    import random

    pick = random.Random(seed)
    letters = "bdfgklmnprstv"
    vowels = "aeiouyåäö"

    def word() -> str:
        return "".join(pick.choice(letters) + pick.choice(vowels) for _ in range(pick.randint(2, 4)))

    return [[" ".join(word() for _ in range(4)).capitalize() + f" {i}", pick.choice(["Växjö kommun", "Lund", "Malmö stad"]),
             "2021", " ".join(word() for _ in range(12)) + ".", "", ""] for i in range(count)]


def test_apply_reports_progress_after_each_batch(curator):
    from kunskap.curation import imports

    calls = []
    result = imports.apply(curator, "manga.csv", csv_bytes([HEADERS, *many_rows(1_200)]), "anna",
                           progress=lambda saved, total: calls.append((saved, total)))
    assert result.counts()["imported"] == 1_200
    assert calls == [(0, 1_200), (500, 1_200), (1_000, 1_200), (1_200, 1_200)]


def poll_status(client, location: str, seconds: float = 240) -> BeautifulSoup:
    deadline = time.monotonic() + seconds
    while True:
        r = client.get(location)
        assert r.status_code == 200
        soup = BeautifulSoup(r.text, "html.parser")
        if not soup.select_one("meta[http-equiv=refresh]"):
            return soup
        assert "Importen pågår" in soup.select_one("[role=status]").text
        assert soup.select_one(f"a[href='{location}']").text == "Uppdatera nu"   # a plain reload, no script
        assert time.monotonic() < deadline, "the import did not finish"
        time.sleep(0.3)


def test_a_big_import_runs_in_the_background_with_a_status_page(client, app_kb):  # noqa: F811
    import json

    kb = app_kb[1]
    login(client)
    csrf = csrf_of(client.get("/kurera/importera").text)
    count = kb.store.count_documents()
    rows = many_rows(1_200) + [["Ett exempel från ingenstans", "Atlantis", "2020", "Text.", "", ""]]
    data = csv_bytes([HEADERS, *rows])
    r = client.post("/kurera/importera", data={"csrf": csrf}, files={"file": ("stor.csv", data, "text/csv")})
    soup = BeautifulSoup(r.text, "html.parser")
    action = soup.select_one("form[action^='/kurera/importera/']")["action"]
    token = action.rsplit("/", 1)[1]
    mapping = {s["name"]: (s.select_one("option[selected]") or {"value": ""})["value"] for s in soup.select("select")}
    # CSRF is still required, and a refused POST starts nothing.
    assert client.post(action, data={"csrf": "fel", **mapping, "action": "import"}).status_code == 403
    assert client.get(f"{action}/status").status_code == 404
    started = time.monotonic()
    r = client.post(action, data={"csrf": csrf, **mapping, "action": "import"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/kurera/importera/{token}/status"
    assert time.monotonic() - started < 30   # answered without saving 1 200 rows first
    # A second apply of the same token does not start a second job: it is sent to the status.
    again = client.post(action, data={"csrf": csrf, **mapping, "action": "import"}, follow_redirects=False)
    assert again.status_code == 303 and again.headers["location"] == r.headers["location"]
    soup = poll_status(client, r.headers["location"])
    assert soup.select_one("h2#sammanfattning").text == "Importen är klar"
    counts = soup.select_one(".import-counts").text
    assert "1 201 rader i filen" in counts and "1 200 importerade som utkast" in counts and "1 med fel" in counts
    assert "Rad 1202, kolumn ”Kommun”" in soup.select_one(".row-errors").text
    assert kb.store.count_documents() == count + 1_200
    drafts = [row["id"] for row in kb.store.document_titles() if row["title"].startswith(rows[0][0])]
    assert len(drafts) == 1 and kb.store.get_document(drafts[0])["status"] == "draft"
    folder = kb.settings.index / "imports"
    status = json.loads((folder / f"{token}.status.json").read_text("utf-8"))
    assert status["state"] == "done" and status["saved"] == status["to_import"] == 1_200
    assert not (folder / f"{token}.data").exists()           # the staged file is gone, the status stays
    # Importing the same file again saves nothing: every row is reported as already there.
    r = client.post("/kurera/importera", data={"csrf": csrf}, files={"file": ("stor.csv", data, "text/csv")})
    soup = BeautifulSoup(r.text, "html.parser")
    assert "1200 finns redan" in soup.select_one(".import-counts").text
    action = soup.select_one("form[action^='/kurera/importera/']")["action"]
    r = client.post(action, data={"csrf": csrf, **mapping, "action": "import"}, follow_redirects=False)
    assert r.status_code == 303
    counts = poll_status(client, r.headers["location"]).select_one(".import-counts").text
    assert "0 importerade som utkast" in counts and "1 200 finns redan" in counts
    assert kb.store.count_documents() == count + 1_200


def test_the_status_page_of_a_running_interrupted_or_unknown_import(client, app_kb):  # noqa: F811
    from kunskap.curation import imports

    kb = app_kb[1]
    login(client)
    for token in ("x" * 24, "inte-en-token!", "a" * 10):
        r = client.get(f"/kurera/importera/{token}/status")
        assert r.status_code == 404 and "Importen finns inte" in BeautifulSoup(r.text, "html.parser").h1.text
    token = imports.stage(kb.settings.index, "stor.csv", b"Rubrik;Kommun\n")
    imports.write_status(kb.settings.index, token, {"state": "running", "filename": "stor.csv", "rows": 10_000,
                                                    "saved": 3_000, "to_import": 10_000})
    soup = BeautifulSoup(client.get(f"/kurera/importera/{token}/status").text, "html.parser")
    assert soup.select_one(".import-progress").text == "Importen pågår – 3 000 av 10 000 rader"
    assert soup.select_one("meta[http-equiv=refresh]")["content"] == str(imports.STATUS_REFRESH_SECONDS)
    # A job whose status stopped moving (the server was killed) is not shown as running for ever.
    path = kb.settings.index / "imports" / f"{token}.status.json"
    status = json.loads(path.read_text("utf-8"))
    path.write_text(json.dumps({**status, "updated": time.time() - imports.JOB_STALE_SECONDS - 1}), "utf-8")
    soup = BeautifulSoup(client.get(f"/kurera/importera/{token}/status").text, "html.parser")
    assert soup.select_one("meta[http-equiv=refresh]") is None
    assert "Importen avbröts efter 3000 av 10000 rader" in soup.select_one("#felsammanfattning").text
    # ... nor when the process that wrote it has ended (a restarted server): shown at once.
    import subprocess
    import sys

    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    path.write_text(json.dumps({**status, "updated": time.time(), "pid": int(ended.stdout)}), "utf-8")
    soup = BeautifulSoup(client.get(f"/kurera/importera/{token}/status").text, "html.parser")
    assert soup.select_one("meta[http-equiv=refresh]") is None and soup.select_one("#felsammanfattning")
    path.write_text(json.dumps({**status, "updated": time.time()}), "utf-8")   # this process: still running
    assert BeautifulSoup(client.get(f"/kurera/importera/{token}/status").text, "html.parser").select_one(
        "meta[http-equiv=refresh]")


def test_import_api_runs_a_big_file_in_the_background(client, app_kb):  # noqa: F811
    kb = app_kb[1]
    auth = {"Authorization": f"Bearer {app_kb[2]}"}
    count = kb.store.count_documents()
    files = {"file": ("stor.csv", csv_bytes([HEADERS, *many_rows(600, seed=5)]), "text/csv")}
    r = client.post("/api/v1/imports", files=files, data={"dry_run": "false"}, headers=auth)
    assert r.status_code == 202
    answer = r.json()
    assert answer["state"] == "queued" and answer["rows"] == 600
    assert answer["follow"] == f"/api/v1/imports/{answer['token']}"
    assert client.get(answer["follow"]).status_code == 401
    deadline = time.monotonic() + 240
    while (status := client.get(answer["follow"], headers=auth).json())["state"] in ("queued", "running"):
        assert status["saved"] <= status["to_import"] and time.monotonic() < deadline
        time.sleep(0.3)
    assert status["state"] == "done" and status["counts"]["imported"] == 600 and status["saved"] == 600
    assert kb.store.count_documents() == count + 600
    r = client.get("/api/v1/imports/" + "y" * 24, headers=auth)
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    assert "Importen finns inte" in r.json()["error"]["message"]


def test_a_job_whose_file_is_gone_fails_with_a_swedish_status(curator):
    from kunskap.curation import imports

    index = curator.kb.settings.index
    token = imports.stage(index, "stor.csv", csv_bytes([HEADERS, *many_rows(300)]))
    imports.claim_job(index, token, "stor.csv", 300)
    with pytest.raises(imports.ImportRunning):   # claimed once only
        imports.claim_job(index, token, "stor.csv", 300)
    imports.unstage(index, token, suffixes=(".data",))
    count = curator.kb.store.count_documents()
    status = imports.run_job(curator, token, "anna", None)
    assert status["state"] == "failed" and "Ladda upp den igen" in status["message"]
    assert imports.job_status(index, token)["state"] == "failed"
    assert curator.kb.store.count_documents() == count
