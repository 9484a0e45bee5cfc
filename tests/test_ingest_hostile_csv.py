"""The landlord's real export made hostile (a separator inside an unquoted value, a
header cell over two lines, doubled carriage returns…): every row still accounted for,
at the line the analyst sees, with a French reason naming file and line."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from pipelines.errors import InputError
from pipelines.ingest import read_file_chunks
from pipelines.ingest.csvfile import read_csv
from pipelines.ingest.readers import read_file
from tests.test_readers_robust import LANDLORD, _ingest, _landlord_source

TICKET = "DI-2024-00001"  # line 2 of the export, its last value (« Logement ») empty


def _export_lines(simulated_bondy: Path) -> list[bytes]:
    """The landlord export's lines (cp1252, CRLF), without their line ends."""
    lines = (simulated_bondy / LANDLORD).read_bytes().split(b"\r\n")
    assert lines[1].startswith(TICKET.encode())
    assert lines[1].endswith(b";")
    return lines


@pytest.mark.parametrize("quote_elsewhere", [False, True], ids=["by-width", "line-by-line"])
def test_a_separator_in_an_unquoted_value_over_an_empty_last_value_is_rejected(
    simulated_bondy: Path, tmp_path: Path, quote_elsewhere: bool
) -> None:
    # « Fuite; urgent » unquoted: 16 fields, the 16th empty. Before, the row was read as
    # one with a trailing separator, every value after the description shifted by one,
    # and rejected for its coordinates (« BL-2 ; »): a reason that misleads the analyst.
    lines = _export_lines(simulated_bondy)
    fields = lines[1].split(b";")
    fields[4] = b"Fuite; urgent"
    lines[1] = b";".join(fields)
    if quote_elsewhere:  # an unclosed quote further down: the file read line by line
        lines[10] = lines[10].replace(b";", b';"', 1)
    path = tmp_path / LANDLORD
    path.write_bytes(b"\r\n".join(lines))
    result = _ingest(_landlord_source(path))
    s = result.summary["sources"]["bailleur"]
    assert s["rows_in"] == len(lines) - 2  # the header, and the empty after the last CRLF
    assert s["rejected"]["malformed_row"] == 1
    bad = result.rejected[result.rejected["reason"] == "malformed_row"].iloc[0]
    assert bad["source_line"] == 2
    assert json.loads(bad["original_row"])["N° ticket"] == TICKET
    assert bad["reason_fr"].startswith(f"Ligne 2 de « {LANDLORD} » mal formée : ")
    assert "16 champs au lieu de 15, 1 de trop" in bad["reason_fr"]
    assert "séparateur « ; » dans une valeur sans guillemets" in bad["reason_fr"]
    assert f"bailleur:{TICKET}" not in set(result.ingested["report_id"])


@pytest.mark.parametrize("tail", ["", '5;"05/02/2024;Tags;\n'], ids=["by-width", "line-by-line"])
def test_a_trailing_separator_on_every_line_is_still_ignored(tmp_path: Path, tail: str) -> None:
    # The usual case of the rule above: every data line one separator longer than the
    # header, its last field empty; a row blank but for its separators stays a blank
    # row, whatever its width (before, « ;;;; » was rejected as malformed beside a row
    # as wide); the row one field wider than the others is malformed.
    path = tmp_path / "t.csv"
    path.write_text(
        "id;date;texte\n1;01/02/2024;Fuite;\n2;02/02/2024;;\n;;;;\n3;03/02/2024;Tags;\n"
        "4;04/02/2024;Panne; urgent;\n" + tail,
        encoding="utf-8",
    )
    raw = read_csv(path)
    assert raw.table.column("id").to_pylist() == ["1", "2", "3"]
    assert raw.lines.tolist() == [2, 3, 5]
    assert raw.blank_rows == 1
    assert [(m.line, m.n_fields) for m in raw.malformed][:1] == [(6, 5)]
    assert len(raw.malformed) == (2 if tail else 1)


def test_a_header_name_over_two_lines_is_named_on_one_with_the_right_line_numbers(
    simulated_bondy: Path, tmp_path: Path
) -> None:
    # « Date de création » quoted over two lines (Alt+Entrée in Excel, then CSV). Before,
    # every message printed the name with its line break (« Date de⏎création » over two
    # lines of rejected.csv), and each row was numbered one line too high (the header
    # taken for one line): DI-2024-00081, on line 83, was told on line 82.
    data = (simulated_bondy / LANDLORD).read_bytes()
    path = tmp_path / LANDLORD
    path.write_bytes(data.replace(b"Date de cr\xe9ation", b'"Date de \r\ncr\xe9ation"', 1))
    result = _ingest(_landlord_source(path))
    rejected = result.rejected.set_index("source_line")
    assert rejected.loc[83, "reason"] == "missing_date"
    assert json.loads(rejected.loc[83, "original_row"])["N° ticket"] == "DI-2024-00081"
    assert rejected.loc[83, "reason_fr"] == "Date absente dans la colonne « Date de création »."
    rows = result.ingested.set_index("report_id")
    assert rows.loc["bailleur:DI-2024-00002", "source_line"] == 4
    # A configured column absent: the file's columns listed on one line.
    source = _landlord_source(path)
    source = dataclasses.replace(source, columns={**source.columns, "date": "Date de dépôt"})
    with pytest.raises(InputError) as err:
        _ingest(source)
    assert "« Date de création »" in str(err.value)
    assert "\n" not in str(err.value)


def test_a_workbook_header_cell_with_a_line_break_is_named_on_one_line(tmp_path: Path) -> None:
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()
    book.active.append(["N° ticket", "Date de\ncréation", "Adresse"])
    book.active.append(["T1", "01/02/2024", "3 rue A"])
    path = tmp_path / "export.xlsx"
    book.save(path)
    raw = read_file(path, "auto")
    assert raw.table.column_names == ["N° ticket", "Date de création", "Adresse"]


def test_doubled_carriage_returns_number_rows_as_a_spreadsheet_shows_them(
    simulated_bondy: Path, tmp_path: Path
) -> None:
    # CR CR LF (an export converted twice to Windows line ends): a spreadsheet, Python's
    # universal newlines and Windows' editors see a blank line under every row; each row
    # is told at the line they show, and the blank lines are no rows.
    data = (simulated_bondy / LANDLORD).read_bytes()
    path = tmp_path / LANDLORD
    path.write_bytes(data.replace(b"\r\n", b"\r\r\n"))
    shown = path.read_text(encoding="cp1252").splitlines()
    line = next(k for k, text in enumerate(shown, 1) if text.startswith("DI-2024-00081;"))
    assert line == 163
    result = _ingest(_landlord_source(path))
    s = result.summary["sources"]["bailleur"]
    assert s["rows_in"] == data.count(b"\r\n") - 1
    rejected = result.rejected.set_index("source_line")
    assert json.loads(rejected.loc[line, "original_row"])["N° ticket"] == "DI-2024-00081"
    parts = list(read_file_chunks(path, "csv", chunk_bytes=200_000))
    assert len(parts) > 1
    assert [int(n) for p in parts for n in p.lines] == read_file(path, "csv").lines.tolist()


@pytest.mark.parametrize("tail", [b"\r\n\x1a", b"\x1a"], ids=["own-line", "after-last-row"])
def test_a_dos_end_of_file_mark_is_no_row(
    simulated_bondy: Path, tmp_path: Path, tail: bytes
) -> None:
    # Ctrl-Z (0x1A), which DOS programs write at the end of a text file. Before, alone on
    # its line it was one more row, rejected as « mal formée : 1 champs au lieu de 15 ».
    data = (simulated_bondy / LANDLORD).read_bytes()
    path = tmp_path / LANDLORD
    path.write_bytes(data.removesuffix(b"\r\n") + tail)
    result = _ingest(_landlord_source(path))
    s = result.summary["sources"]["bailleur"]
    assert s["rows_in"] == data.count(b"\r\n") - 1
    assert "malformed_row" not in s["rejected"]
    parts = list(read_file_chunks(path, "csv", chunk_bytes=200_000))
    assert sum(p.n_rows for p in parts) == s["rows_in"]
    # A line of one field is still malformed, told in the singular.
    path.write_bytes(data + b"Fuite\r\n")
    bad = _ingest(_landlord_source(path)).rejected
    reason = bad.loc[bad["reason"] == "malformed_row", "reason_fr"].iloc[0]
    assert "mal formée : 1 champ au lieu de 15, 14 de moins" in reason


def test_rows_under_a_header_repeated_in_another_order_are_read_under_its_names(
    simulated_bondy: Path, tmp_path: Path
) -> None:
    # Two exports pasted together, the second with « Description » and « Téléphone »,
    # « Catégorie » and « Statut » swapped, its header line between them. Before, its
    # rows were read under the first header's names: the phone number as description,
    # the status as category (« autre »), and the category as status.
    lines = _export_lines(simulated_bondy)[:-1]

    def swapped(line: bytes) -> bytes:
        f = line.split(b";")
        f[4], f[13], f[2], f[9] = f[13], f[4], f[9], f[2]
        return b";".join(f)

    second = [swapped(line.replace(b"DI-2024-", b"DX-2024-")) for line in lines[:40]]
    path = tmp_path / LANDLORD
    path.write_bytes(b"\r\n".join(lines + second) + b"\r\n")
    result = _ingest(_landlord_source(path))
    s = result.summary["sources"]["bailleur"]
    assert s["rows_in"] == len(lines) - 1 + 40
    assert s["rejected"]["repeated_header"] == 1
    rows = result.ingested.set_index("report_id")
    first, again = rows.loc["bailleur:DI-2024-00002"], rows.loc["bailleur:DX-2024-00002"]
    assert again["source_line"] == len(lines) + 3  # its header on the line above the first
    columns = ["description", "category", "status", "subcategory", "address", "lat"]
    assert again[columns].fillna("").tolist() == first[columns].fillna("").tolist()
    assert again["description"] == "Vide-ordures bouché."
    assert not any("+33 4 65 71 80 41" in str(v) for v in again.to_numpy())


def test_a_quote_left_open_is_logged_at_its_line_in_the_file_when_read_in_parts(
    simulated_bondy: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # The reader of parts logged the line counted in the part (« ligne(s) 2 ») where
    # rejected.csv tells the file's (3 000).
    lines = _export_lines(simulated_bondy)
    lines[2999] = lines[2999].replace(b";", b';"', 1)
    path = tmp_path / LANDLORD
    path.write_bytes(b"\r\n".join(lines))
    with caplog.at_level("WARNING", logger="pipelines.ingest.csvfile"):
        parts = list(read_file_chunks(path, "csv", chunk_bytes=200_000))
    assert [int(n) for p in parts for n in p.malformed.lines] == [3000]
    told = [r.getMessage() for r in caplog.records if "jamais fermé" in r.getMessage()]
    assert told == [f"{path} : guillemet ouvert et jamais fermé, ligne(s) 3000 : lue(s) seule(s)"]


def test_rows_whose_empty_last_value_was_left_out_are_told_so(
    simulated_bondy: Path, tmp_path: Path
) -> None:
    # An export tool that leaves out a row's empty last value (« …;0353010966 » for
    # « …;0353010966; »): which value is missing is not guessed, the row is rejected,
    # and its reason names that cause beside a missing separator.
    lines = _export_lines(simulated_bondy)[:-1]
    short = [line.endswith(b";") for line in lines[1:]]
    path = tmp_path / LANDLORD
    path.write_bytes(b"\r\n".join([lines[0]] + [x.removesuffix(b";") for x in lines[1:]]))
    result = _ingest(_landlord_source(path))
    s = result.summary["sources"]["bailleur"]
    assert s["rows_in"] == len(lines) - 1
    # Every short row rejected, but for exact copies of an earlier one (duplicates).
    shorts = {k + 2 for k, was in enumerate(short) if was}
    bad = result.rejected.loc[result.rejected["reason"] == "malformed_row", "source_line"]
    assert set(bad) <= shorts
    assert len(bad) == s["rejected"]["malformed_row"] >= len(shorts) - s["duplicates"] > 2000
    reason = result.rejected.set_index("source_line").loc[2, "reason_fr"]
    assert reason == (
        f"Ligne 2 de « {LANDLORD} » mal formée : 14 champs au lieu de 15, 1 de moins "
        "(séparateur manquant, ligne coupée en deux, ou dernières valeurs vides omises par "
        "l'outil d'export ?)."
    )


def test_rows_under_the_header_of_an_export_with_another_column_are_told_so(
    simulated_bondy: Path, tmp_path: Path
) -> None:
    # A second export, with one more column (« Priorité »), pasted under the first. Its
    # rows are rejected (which column is which is not guessed); before, each was said
    # « sans doute un séparateur dans une valeur », and its header line too.
    lines = _export_lines(simulated_bondy)[:-1]
    second = [lines[0] + b";Priorit\xe9"] + [x + b";haute" for x in lines[1:40]]
    lines[1] = lines[1].replace(b"Digicode cass\xe9.", b"Fuite; urgent")
    path = tmp_path / LANDLORD
    path.write_bytes(b"\r\n".join(lines + second) + b"\r\n")
    result = _ingest(_landlord_source(path))
    assert result.summary["sources"]["bailleur"]["rejected"]["malformed_row"] == 41
    reasons = result.rejected.set_index("source_line")["reason_fr"]
    head = len(lines) + 1
    assert reasons[head] == (
        f"Ligne {head} de « {LANDLORD} » : l'en-tête d'un autre export, de 16 colonnes au "
        "lieu de 15 (deux exports mis bout à bout ?) ; ses lignes aussi larges sont "
        "écartées : enregistrez cet export dans un fichier à part."
    )
    assert reasons[head + 2] == (
        f"Ligne {head + 2} de « {LANDLORD} » mal formée : 16 champs au lieu de 15, sous "
        f"l'en-tête d'un autre export (ligne {head}, de 16 colonnes) ; écartée : "
        "enregistrez cet export dans un fichier à part."
    )
    # A separator too many above that header, in a row as wide, is still told as such.
    assert "16 champs au lieu de 15, 1 de trop : sans doute un séparateur" in reasons[2]
    assert "1 de trop" not in "".join(reasons[reasons.index > head])


def _with_description(
    simulated_bondy: Path, tmp_path: Path, value: bytes, *, quoted_address: bool = False
) -> Path:
    """The landlord export with DI-2024-00001's description (« Digicode cassé. »)
    written as ``value``, bytes as in the file, and its address between quotes where
    ``quoted_address``."""
    lines = _export_lines(simulated_bondy)
    fields = lines[1].split(b";")
    fields[4] = value
    if quoted_address:
        fields[5] = b'"' + fields[5] + b'"'
    lines[1] = b";".join(fields)
    path = tmp_path / LANDLORD
    path.write_bytes(b"\r\n".join(lines))
    return path


def test_a_nul_between_two_words_reads_as_a_space(simulated_bondy: Path, tmp_path: Path) -> None:
    # A NUL where the export wrote a space (or a line break): the cleaning removed it
    # and glued the words, « Fuiteurgente ». An id keeps none (another test).
    path = _with_description(simulated_bondy, tmp_path, b"Fuite\x00urgente\x00\x00cage B\x00")
    rows = _ingest(_landlord_source(path)).ingested.set_index("report_id")
    assert rows.loc[f"bailleur:{TICKET}", "description"] == "Fuite urgente cage B"


@pytest.mark.parametrize("quote_elsewhere", [False, True], ids=["by-width", "line-by-line"])
def test_a_block_of_rows_with_a_trailing_separator_is_read(
    simulated_bondy: Path, tmp_path: Path, quote_elsewhere: bool
) -> None:
    # The last 20 rows exported by another tool, which ends every line with a
    # separator, pasted under the export. Before, the 20 were rejected as « 16 champs au
    # lieu de 15 », most lines being 15 wide; a row alone so wide still is (the test of
    # a separator in an unquoted value above), and so are two such rows only.
    lines = _export_lines(simulated_bondy)[:-1]
    n = len(lines)
    for k in [*range(n - 20, n), 100, 101]:
        lines[k] += b";"
    lines[3] = lines[3].replace(b"Rats vus", b"Rats; vus")  # DI-2024-00003, Logement empty
    if quote_elsewhere:  # an unclosed quote further up: the file read line by line
        lines[10] = lines[10].replace(b";", b';"', 1)
    path = tmp_path / LANDLORD
    path.write_bytes(b"\r\n".join(lines) + b"\r\n")
    result = _ingest(_landlord_source(path))
    bad = result.rejected.loc[result.rejected["reason"] == "malformed_row", "source_line"]
    assert sorted(bad) == [4, 101, 102]
    rows = result.ingested.set_index("source_line")
    last = lines[-1].decode("cp1252").split(";")
    assert rows.loc[n, "report_id"] == f"bailleur:{last[0]}"
    assert rows.loc[n, "status"] == last[9]
    assert set(range(n - 19, n + 1)) <= set(rows.index) | set(result.outside["source_line"])


@pytest.mark.parametrize(
    ("written", "read"),
    [
        (b'"Fuite \\"urgente\\" cage B"', 'Fuite "urgente" cage B'),
        (b'"Fuite \\"urgente\\"; cage B"', 'Fuite "urgente"; cage B'),
        (b'"Fuite" urgente', '"Fuite" urgente'),
    ],
    ids=["backslash", "backslash-separator", "quote-then-text"],
)
def test_a_quote_closing_a_value_before_its_end_is_read_as_written(
    simulated_bondy: Path, tmp_path: Path, written: bytes, read: str
) -> None:
    # Quotes escaped by a backslash (MySQL, PHP) and a quoted word followed by text.
    # Before, pyarrow ended the value at its second quote and added the rest without a
    # word: « Fuite \urgente\" cage B" », « Fuite urgente »; with a separator after
    # « urgente\" » the row was rejected, « sans doute un séparateur « ; » dans une
    # valeur sans guillemets », the value being quoted. The address beside it is
    # between quotes (read without them).
    path = _with_description(simulated_bondy, tmp_path, written, quoted_address=True)
    result = _ingest(_landlord_source(path))
    assert "malformed_row" not in result.summary["sources"]["bailleur"]["rejected"]
    row = result.ingested.set_index("report_id").loc[f"bailleur:{TICKET}"]
    assert row["description"] == read
    assert row["address"] == "2 avenue maurice benhamou"
    assert row["status"] == "Clôturé"


def test_a_quote_closed_before_a_separator_and_text_is_rejected_with_its_width(
    simulated_bondy: Path, tmp_path: Path
) -> None:
    # « "Fuite; cage B" urgente »: which separator ends the value cannot be told; split
    # at every separator, the row is one field too wide, rejected as such.
    path = _with_description(simulated_bondy, tmp_path, b'"Fuite; cage B" urgente')
    result = _ingest(_landlord_source(path))
    bad = result.rejected.set_index("source_line").loc[2]
    assert bad["reason"] == "malformed_row"
    assert "16 champs au lieu de 15" in bad["reason_fr"]
    assert json.loads(bad["original_row"])["Description"] == '"Fuite'


def _second_export(
    simulated_bondy: Path, tmp_path: Path, header: bytes, swap: tuple[int, int] | None
) -> Path:
    """The landlord export with 39 of its rows pasted under it again (tickets DX-…)
    under ``header``, the fields at ``swap`` swapped."""
    lines = _export_lines(simulated_bondy)[:-1]

    def swapped(line: bytes) -> bytes:
        f = line.split(b";")
        if swap:
            i, j = swap
            f[i], f[j] = f[j], f[i]
        return b";".join(f)

    second = [header] + [swapped(x.replace(b"DI-2024-", b"DX-2024-")) for x in lines[1:40]]
    path = tmp_path / LANDLORD
    path.write_bytes(b"\r\n".join(lines + second) + b"\r\n")
    return path


def test_rows_under_a_header_repeated_with_a_column_renamed_and_moved_are_read_under_its_names(
    simulated_bondy: Path, tmp_path: Path
) -> None:
    # An export of another version, « Statut » renamed « État », « Description » and
    # « Téléphone » swapped. Before, a header again was one whose every cell is a name
    # of the header: its rows were read by position, DX-2024-00002's description its
    # phone number (« [téléphone] », scrubbed).
    lines = _export_lines(simulated_bondy)[:-1]
    f = lines[0].split(b";")
    f[4], f[13], f[9] = f[13], f[4], b"\xc9tat"
    path = _second_export(simulated_bondy, tmp_path, b";".join(f), (4, 13))
    result = _ingest(_landlord_source(path))
    s = result.summary["sources"]["bailleur"]
    assert s["rows_in"] == len(lines) - 1 + 40
    assert s["rejected"]["repeated_header"] == 1
    assert result.rejected.set_index("source_line").loc[len(lines) + 1, "reason"] == (
        "repeated_header"
    )
    rows = result.ingested.set_index("report_id")
    again = rows.loc["bailleur:DX-2024-00002"]
    assert again["description"] == "Vide-ordures bouché."
    assert again["status"] == rows.loc["bailleur:DI-2024-00002", "status"]
    (note,) = [i["detail"] for i in s["file_issues"] if i["reason"] == "renamed_header"]
    assert note == (
        f"Ligne {len(lines) + 1} : l'en-tête est répété avec « État » au lieu de « Statut », "
        "et des colonnes dans un autre ordre (deux exports mis bout à bout ?) ; la ligne est "
        "écartée, les suivantes sont lues sous les noms du premier en-tête, chacune à sa place."
    )


def test_a_header_repeated_with_its_date_column_renamed_is_told_as_a_header(
    simulated_bondy: Path, tmp_path: Path
) -> None:
    # « N° ticket » and « Date de création » renamed « Ticket » and « Créé le », in
    # place. Before, the line was rejected « Date illisible … : « Créé le » ».
    lines = _export_lines(simulated_bondy)[:-1]
    header = lines[0].replace(b"Date de cr\xe9ation", b"Cr\xe9\xe9 le")
    path = _second_export(simulated_bondy, tmp_path, header.replace(b"N\xb0 ", b""), None)
    result = _ingest(_landlord_source(path))
    bad = result.rejected.set_index("source_line").loc[len(lines) + 1]
    assert bad["reason"] == "repeated_header"
    assert bad["reason_fr"].startswith("Ligne d'en-tête répétée")
    rows = result.ingested.set_index("report_id")
    assert rows.loc["bailleur:DX-2024-00002", "description"] == "Vide-ordures bouché."


def test_a_header_repeated_with_columns_renamed_and_moved_beyond_telling_is_refused(
    simulated_bondy: Path, tmp_path: Path
) -> None:
    # « Description » and « Catégorie » swapped, « Description » and « Téléphone »
    # renamed: which renamed column is which cannot be told. Before, the rows were read
    # by position, the category as description and the description as category.
    # (Columns renamed where they were are read there.)
    lines = _export_lines(simulated_bondy)[:-1]
    f = lines[0].split(b";")
    f[2], f[4], f[13] = b"Libell\xe9", f[2], b"Tel."
    path = _second_export(simulated_bondy, tmp_path, b";".join(f), (2, 4))
    with pytest.raises(InputError) as err:
        _ingest(_landlord_source(path))
    message = str(err.value)
    assert message.startswith(f"{path}, ligne {len(lines) + 1} : l'en-tête est répété avec")
    assert "« Description », « Téléphone » n'y sont plus" in message
    with pytest.raises(InputError) as err:  # in parts: at its line in the file too
        list(read_file_chunks(path, "csv", chunk_bytes=200_000))
    assert str(err.value) == message


@pytest.mark.parametrize("quoted", [False, True], ids=["unquoted", "quoted"])
def test_a_5_mb_text_in_one_cell_of_the_first_row_is_read(tmp_path: Path, quoted: bool) -> None:
    # A pasted mail of 5 MB in a cell of the first row of the shipped DansMaRue export.
    # Python's csv refuses a field over 128 kB: the whole export was refused as « ne
    # ressemble pas à un fichier texte CSV (illisible comme tableau) », unless another
    # file read before in the same process had raised the limit. It is now raised on
    # importing the package: as in a fresh process, the default limit is set back and
    # the package imported again.
    import csv
    import importlib

    import pipelines.ingest

    src = Path(__file__).resolve().parents[1] / "data/raw/paris10"
    src = src / "dansmarue_paris_2023-08_2024-09.csv"
    lines = src.read_text(encoding="utf-8").split("\n")[:51]
    text = "x" * (5 * 2**20)
    old, new = (',"Graffitis', ',"Graffitis ' + text) if quoted else (",Android,", f",{text},")
    lines[1] = lines[1].replace(old, new, 1)
    assert text in lines[1]
    path = tmp_path / "dansmarue_cellule_longue.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    before = csv.field_size_limit(131072)  # Python's default
    try:
        importlib.reload(pipelines.ingest)
        raw = read_file(path, "auto")
    finally:
        csv.field_size_limit(max(before, csv.field_size_limit()))
    assert raw.table.num_rows + len(raw.malformed) == 50
    assert raw.lines[0] == 2
    column = "type" if quoted else "prefixe"
    assert text in raw.table.column(column)[0].as_py()


def test_a_5_mb_text_in_a_cell_of_the_landlord_export_is_ingested(
    simulated_bondy: Path, tmp_path: Path
) -> None:
    # The landlord export (cp1252) with a pasted mail of 5 MB in a description: the
    # search for cp850 words (pipelines.ingest.encoding.other_encoding) tried its run of
    # letters again from each letter, in time quadratic in its length (100 kB: 44 s;
    # 5 MB: the ingestion never ended). Now read in about a second, every row counted.
    lines = _export_lines(simulated_bondy)
    fields = lines[1].split(b";")
    fields[4] = b"Fuite au plafond " + b"x" * (5 * 2**20)
    lines[1] = b";".join(fields)
    path = tmp_path / "export_cellule_longue.csv"
    path.write_bytes(b"\r\n".join(lines))
    result = _ingest(_landlord_source(path))
    assert f"bailleur:{TICKET}" in set(result.ingested["report_id"])
    source = next(iter(result.summary["sources"].values()))
    assert source["rows_in"] == sum(1 for line in lines[1:] if line.strip())


@pytest.mark.parametrize(
    ("first", "at"),
    [(b"Libell\xe9", 4), (b"Cr\xe9\xe9 le", 1)],
    ids=["description_renamed_first", "date_renamed_first"],
)
def test_a_header_repeated_with_a_renamed_column_moved_to_the_front_is_read_under_its_names(
    simulated_bondy: Path, tmp_path: Path, first: bytes, at: int
) -> None:
    # « Description » (or « Date de création ») renamed and moved to the front, « N° ticket »
    # in its place. Before, a header again was looked for only where the first field is a
    # name of the header: the rows under it were read by position, the description as
    # the ticket number (or every date unreadable: « DX-2024-00002 »).
    lines = _export_lines(simulated_bondy)[:-1]
    f = lines[0].split(b";")
    f[0], f[at] = first, f[0]
    path = _second_export(simulated_bondy, tmp_path, b";".join(f), (0, at))
    result = _ingest(_landlord_source(path))
    s = result.summary["sources"]["bailleur"]
    assert s["rejected"]["repeated_header"] == 1
    assert "unparseable_date" not in s["rejected"]
    (note,) = [i["detail"] for i in s["file_issues"] if i["reason"] == "renamed_header"]
    assert f"avec « {first.decode('cp1252')} » au lieu de" in note
    rows = result.ingested.set_index("report_id")
    again = rows.loc["bailleur:DX-2024-00002"]
    assert again["description"] == "Vide-ordures bouché."
    assert again["reported_at"] == rows.loc["bailleur:DI-2024-00002", "reported_at"]
    parts = list(read_file_chunks(path, "csv", chunk_bytes=200_000))
    ids = [v for p in parts for v in p.table.column("N° ticket").to_pylist()]
    assert "DX-2024-00002" in ids


def test_a_cell_over_the_length_limit_is_cut_with_a_note_and_its_row_read(
    simulated_bondy: Path, tmp_path: Path
) -> None:
    # A mail thread of 80 000 characters pasted into a description. Before, it was
    # carried whole into the reports, the map's popups and rejected.csv (5 MB as well),
    # nothing said; now cut at a space before 10 000 characters, the row read, noted.
    from pipelines.ingest.longcells import CUT_MARK, MAX_CELL_CHARS

    lines = _export_lines(simulated_bondy)
    fields = lines[1].split(b";")
    fields[4] = b"Fuite au plafond, " + b"voir le courriel " * 5000
    lines[1] = b";".join(fields)
    path = tmp_path / "export_cellule_longue.csv"
    path.write_bytes(b"\r\n".join(lines))
    result = _ingest(_landlord_source(path))
    row = result.ingested.set_index("report_id").loc[f"bailleur:{TICKET}"]
    assert row["description"].startswith("Fuite au plafond, voir le courriel")
    assert row["description"].endswith("courriel" + CUT_MARK)
    assert len(row["description"]) <= MAX_CELL_CHARS + len(CUT_MARK)
    s = result.summary["sources"]["bailleur"]
    (note,) = [i for i in s["file_issues"] if i["reason"] == "long_cells"]
    assert note["file"] == str(path)
    assert note["detail"].startswith(
        "1 cellule(s) de la colonne « Description » dépassent 10\u202f000 caractères "
        "(jusqu'à 85\u202f018) : lignes 2."
    )
    assert note["lines"] == [2]
    assert s["rows_in"] == sum(1 for line in lines[1:] if line.strip())


def test_a_utf8_export_pasted_under_a_cp1252_one_is_read_with_its_accents(
    simulated_bondy: Path, tmp_path: Path
) -> None:
    # « cat janvier.csv fevrier.csv »: the landlord's cp1252 export, then 39 rows of an
    # export saved as « CSV UTF-8 » (its BOM and header first). Before, the UTF-8 rows
    # were noted but read in cp1252: « Digicode cassÃ© », « ClÃ´turÃ© », and their
    # categories, unknown so garbled, counted as « autre ».
    lines = _export_lines(simulated_bondy)[:-1]
    utf8 = [line.decode("cp1252").encode("utf-8") for line in lines[:40]]
    second = [b"\xef\xbb\xbf" + utf8[0]] + [x.replace(b"DI-2024-", b"DX-2024-") for x in utf8[1:]]
    path = tmp_path / LANDLORD
    path.write_bytes(b"\r\n".join(lines + second) + b"\r\n")
    result = _ingest(_landlord_source(path))
    s = result.summary["sources"]["bailleur"]
    assert s["rejected"]["repeated_header"] == 1
    (note,) = s["file_issues"]  # the header again is no renamed one (« ï»¿N° ticket »)
    assert note["reason"] == "mixed_encoding"
    assert "Elles sont lues en UTF-8" in note["detail"]
    rows = result.ingested.set_index("report_id")
    columns = ["description", "category", "status"]
    for k in range(1, 40):
        first, again = f"bailleur:DI-2024-{k:05d}", f"bailleur:DX-2024-{k:05d}"
        if first in rows.index:
            assert rows.loc[again, columns].tolist() == rows.loc[first, columns].tolist()
    assert rows.loc["bailleur:DX-2024-00001", "description"] == "Digicode cassé."
    whole = read_file(path, "csv")
    parts = list(read_file_chunks(path, "csv", chunk_bytes=100_000))
    assert [v for p in parts for v in p.table.column("Statut").to_pylist()] == (
        whole.table.column("Statut").to_pylist()
    )


def test_a_separator_at_the_end_of_the_header_only_is_ignored(
    simulated_bondy: Path, tmp_path: Path
) -> None:
    # « …;Téléphone;Logement; » over rows without a trailing separator (the header
    # edited by hand, or an export tool that ends its header so). Before, the header
    # had a sixteenth, nameless column and every row was rejected « mal formée : 15
    # champs au lieu de 16 »: not one report of the export was read.
    lines = _export_lines(simulated_bondy)
    path = tmp_path / LANDLORD
    path.write_bytes(b"\r\n".join([lines[0] + b";", *lines[1:]]))
    result = _ingest(_landlord_source(path))
    s = result.summary["sources"]["bailleur"]
    assert "malformed_row" not in s["rejected"]
    original = _ingest(_landlord_source(simulated_bondy / LANDLORD))
    o = original.summary["sources"]["bailleur"]
    for key in ("rows_in", "accepted", "duplicates", "outside_study_area", "rejected"):
        assert s[key] == o[key], key
    assert f"bailleur:{TICKET}" in set(result.ingested["report_id"])
    parts = list(read_file_chunks(path, "csv", chunk_bytes=200_000))
    assert sum(p.table.num_rows for p in parts) == sum(p.n_rows for p in parts)


def test_a_text_cut_at_the_length_limit_keeps_no_part_of_a_phone_number() -> None:
    # Cut at the last space before the limit, a phone number written with spaces left
    # its first digits (« 06 12 34 »), which the scrubbing no longer knows as a number.
    from pipelines.ingest.longcells import CUT_MARK, MAX_CELL_CHARS, cut_text

    text = "x" * (MAX_CELL_CHARS - 12) + " appelez 06 12 34 56 78 merci"
    assert cut_text(text) == "x" * (MAX_CELL_CHARS - 12) + " appelez" + CUT_MARK


def test_a_header_written_with_the_masculine_ordinal_is_found(
    simulated_bondy: Path, tmp_path: Path
) -> None:
    # « Nº ticket » (U+00BA, as a Mac or Word writes « N° »). Before, the run stopped:
    # « colonnes configurées absentes : « N° ticket ». Colonnes disponibles : « Nº
    # ticket », … », two names the analyst cannot tell apart.
    lines = _export_lines(simulated_bondy)
    path = tmp_path / LANDLORD
    path.write_bytes(b"\r\n".join([lines[0].replace(b"N\xb0 ", b"N\xba "), *lines[1:]]))
    result = _ingest(_landlord_source(path))
    assert f"bailleur:{TICKET}" in set(result.ingested["report_id"])


def test_ticket_numbers_excel_wrote_in_scientific_notation_are_no_ids(
    simulated_bondy: Path, tmp_path: Path
) -> None:
    # Numeric ticket numbers (202400000001…) opened in Excel, shown « 2,024E+11 », and
    # the file saved so: every ticket shares that id. Before, the export's 7 000 reports
    # were read as versions of one ticket: 1 accepted, the others « mises à jour ».
    lines = _export_lines(simulated_bondy)
    mangled = [lines[0]] + [b"2,024E+11" + x[x.index(b";") :] if x else x for x in lines[1:]]
    path = tmp_path / LANDLORD
    path.write_bytes(b"\r\n".join(mangled))
    s = _ingest(_landlord_source(path)).summary["sources"]["bailleur"]
    o = _ingest(_landlord_source(simulated_bondy / LANDLORD)).summary["sources"]["bailleur"]
    assert s["updated"] == 0
    for key in ("rows_in", "accepted", "duplicates", "outside_study_area", "rejected"):
        assert s[key] == o[key], key
    (note,) = [i for i in s["file_issues"] if i["reason"] == "excel_number_ids"]
    assert "notation scientifique (« 2,024E+11 »)" in note["detail"]
