"""The online BAN geocoder against a stub server on 127.0.0.1 (never the real service):
one that answers, one that fails (HTTP 500, a connection closed, no answer in time, a
closed port). A failing service stops nothing: the rows it could not ask keep their
offline result with ``ban_status`` « failed », one French warning names the service and
the error, and the answers already cached are kept and never asked again."""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import Point

from pipelines.crs import WGS84
from pipelines.geocode.address_index import BanClient, match_addresses
from pipelines.geocode.address_parse import parse_addresses
from pipelines.geocode.stage import ban_online_summary
from tests.test_address_index import LAMBERT93, X0, Y0, street  # noqa: F401

POINT = gpd.GeoSeries([Point(X0 + 80, Y0 + 1)], crs=LAMBERT93).to_crs(WGS84).iloc[0]


class _Stub(BaseHTTPRequestHandler):
    """Answers as the BAN's ``/search/csv/`` does, or fails as ``server.mode`` says."""

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"])).decode("utf-8")
        rows = re.findall(r"^(\d+),(.*?)\r?$", body, flags=re.MULTILINE)
        server: Any = self.server
        server.asked.append([q.strip('"') for _, q in rows])
        if server.mode == "500":
            self.send_response(500)
            self.end_headers()
            self.wfile.write(b"Internal Server Error")
            return
        if server.mode == "close":
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        if server.mode == "slow":
            server.release.wait(5)
            return
        lines = ["row_id,q,latitude,longitude,result_label,result_score,result_type,result_id"]
        for row_id, q in rows:
            if "test" in q:
                lines.append(
                    f"{row_id},{q},{POINT.y},{POINT.x},6 Rue du Test 93140 Bondy,0.93,"
                    "housenumber,93010_test_00006"
                )
            else:
                lines.append(f"{row_id},{q},,,,,,")
        self.send_response(200)
        self.send_header("Content-Type", "text/csv")
        self.end_headers()
        self.wfile.write(("\n".join(lines) + "\n").encode("utf-8"))

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def stub() -> Iterator[Any]:
    server: Any = ThreadingHTTPServer(("127.0.0.1", 0), _Stub)
    server.mode, server.asked, server.release = "answer", [], threading.Event()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    server.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield server
    server.release.set()
    server.shutdown()
    server.server_close()


def _closed_port() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


TEXTS = pd.Series(["6 rue du Test, 93140 Bondy", "9 rue Ailleurs, 93140 Bondy", "zzz"])


def _match(client: BanClient, street_: Any) -> pd.DataFrame:
    index, buildings = street_
    return match_addresses(parse_addresses(TEXTS), index.iloc[0:0], buildings, ban_client=client)


def test_an_answering_service_places_and_its_cache_is_real(
    stub: Any,
    street: tuple[gpd.GeoDataFrame, gpd.GeoDataFrame],  # noqa: F811
    tmp_path: Path,
) -> None:
    client = BanClient(stub.url, cache_dir=tmp_path / "ban", timeout=5)
    out = _match(client, street)
    assert out.loc[0, "geocode_method"] == "ban"
    assert out.loc[0, "building_id"] == "way/4"
    assert out["ban_status"].tolist() == ["answered"] * 3
    assert len(stub.asked) == 1
    assert len(stub.asked[0]) == 3
    # A second run asks nothing; one new address alone is asked, not the others again.
    again = _match(BanClient(stub.url, cache_dir=tmp_path / "ban", timeout=5), street)
    pd.testing.assert_frame_equal(again, out)
    assert len(stub.asked) == 1
    index, buildings = street
    more = pd.concat([TEXTS, pd.Series(["10 rue du Test, 93140 Bondy"])], ignore_index=True)
    match_addresses(
        parse_addresses(more),
        index.iloc[0:0],
        buildings,
        ban_client=BanClient(stub.url, cache_dir=tmp_path / "ban", timeout=5),
    )
    assert stub.asked[1] == ["10 rue du test, 93140 bondy"]


@pytest.mark.parametrize("mode", ["500", "close", "slow", "closed_port"])
def test_a_failing_service_stops_nothing(
    stub: Any,
    street: tuple[gpd.GeoDataFrame, gpd.GeoDataFrame],  # noqa: F811
    tmp_path: Path,
    mode: str,
) -> None:
    # Before: BanServiceError, and the whole geocoding stage stopped.
    cache = tmp_path / "ban"
    first = BanClient(stub.url, cache_dir=cache, timeout=5)
    index, buildings = street
    match_addresses(
        parse_addresses(TEXTS.iloc[:1]), index.iloc[0:0], buildings, ban_client=first
    )  # the first address answered and cached while the service worked
    stub.mode = mode
    url = _closed_port() if mode == "closed_port" else stub.url
    client = BanClient(url, cache_dir=cache, timeout=0.3)
    started = time.monotonic()
    out = _match(client, street)
    assert time.monotonic() - started < 4.5
    cached = mode != "closed_port"  # the cache is per service: another URL, none
    assert out.loc[0, "geocode_method"] == ("ban" if cached else "unmatched")
    assert out["ban_status"].tolist() == ["answered" if cached else "failed", "failed", "failed"]
    assert out.loc[1, "geocode_method"] == "unmatched"  # its offline result, kept
    online = ban_online_summary(out.attrs["ban_online"])
    assert online["from_cache"] == int(cached)
    assert online["failed"] == 3 - int(cached)
    expected = {
        "500": "erreur HTTP 500",
        "close": "connexion impossible ou fermée",
        "slow": "pas de réponse en 0.3 s",
        "closed_port": "connexion refusée",
    }[mode]
    assert expected in online["warning"]
    assert url in online["warning"]
    assert "géocodeur BAN en ligne" in online["warning"]
    # Nothing unanswered was cached: once the service answers, those are asked.
    stub.mode = "answer"
    again = _match(BanClient(stub.url, cache_dir=cache, timeout=5), street)
    assert again["ban_status"].tolist() == ["answered"] * 3
    assert stub.asked[-1] == ["9 rue ailleurs, 93140 bondy", "zzz"]


def test_a_row_the_failing_service_could_not_ask_says_so_in_unplaced() -> None:
    from pipelines.geocode.unplaced import unplaced_reports

    reports = pd.DataFrame(
        {
            "report_id": ["a", "b"],
            "building_id": pd.array([pd.NA, pd.NA], dtype="string"),
            "geocode_method": ["unmatched", "unmatched"],
            "address": ["9 rue Ailleurs", "10 rue Ailleurs"],
            "ban_status": pd.array(["failed", "answered"], dtype="string"),
        }
    )
    reasons = unplaced_reports(reports)["reason"].tolist()
    assert reasons[0].endswith(
        "géocodeur BAN en ligne en échec : adresse non demandée "
        "(relancer le géocodage quand le service répond)"
    )
    assert "BAN en ligne" not in reasons[1]


def test_ban_status_reaches_the_geocoded_reports(
    stub: Any,
    street: tuple[gpd.GeoDataFrame, gpd.GeoDataFrame],  # noqa: F811
) -> None:
    from pipelines.geocode.stage import geocode_reports

    stub.mode = "500"
    out = _match(BanClient(stub.url, timeout=5), street)
    reports = gpd.GeoDataFrame({"address": TEXTS}, geometry=[None] * 3, crs=WGS84)
    geocoded = geocode_reports(reports, street[1], address_matches=out)
    assert geocoded["ban_status"].tolist() == ["failed"] * 3
    assert geocoded["geocode_method"].tolist() == ["unmatched"] * 3
