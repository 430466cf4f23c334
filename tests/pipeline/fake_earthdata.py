"""A loopback stand-in for Earthdata Login, CMR and a DAAC, over real HTTPS.

It answers in the shapes recorded in ../shared/reference/earthdata: the token endpoint's JSON
(and its `invalid_credentials` error), CMR's `granules.umm_json` with the `CMR-Hits` header and
UMM-G items (RelatedUrls, DataGranule.ArchiveAndDistributionInformation with SHA-256), and
plain file downloads. Failures can be planted per file: `busy` answers 503 a given number of
times, `missing` answers 404. A self-signed certificate for 127.0.0.1 is made with openssl and
handed to requests through REQUESTS_CA_BUNDLE.
"""

from __future__ import annotations

import base64
import hashlib
import json
import ssl
import subprocess
import threading
from datetime import UTC, date, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

USER, PASSWORD, TOKEN = "tester", "s3cret-pass", "fake-token"


def make_certificate(folder: Path) -> tuple[Path, Path]:
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
         "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


class FakeEarthdata:
    """Serves `files` (name -> path) as the granules of one collection."""

    def __init__(self, folder: Path, files: dict[str, Path]) -> None:
        self.files = files
        self.busy: dict[str, int] = {}
        self.missing: set[str] = set()
        self.requests: list[str] = []
        self.queries: list[dict[str, list[str]]] = []  # the query of every granule search
        self.cert, key = make_certificate(folder)
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.cert, key)
        self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True)
        self.host = f"127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakeEarthdata:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def revised(self, name: str) -> datetime:
        """When the catalogue last changed a granule: its file's modification time."""
        return datetime.fromtimestamp(self.files[name].stat().st_mtime, UTC)

    @staticmethod
    def extent(name: str) -> tuple[date, date]:
        """A granule's first and last day: a SMAP file's day, a Daymet file's whole year."""
        if name.startswith("daymet_"):
            year = int(name.rsplit("_", 1)[-1][:4])
            return date(year, 1, 1), date(year, 12, 31)
        day = name.split("_")[5][:8] if name.startswith("SMAP_L2") else name.split("_")[5]
        first = date(int(day[:4]), int(day[4:6]), int(day[6:8]))
        return first, first

    def umm_item(self, name: str) -> dict:
        path = self.files[name]
        begin, end = self.extent(name)
        iso, iso_end = (f"{d.isoformat()}T00:00:00.000Z" for d in (begin, end))
        return {
            "meta": {"concept-type": "granule", "concept-id": f"G{abs(hash(name)) % 10**9}-NSIDC_CPRD",
                     "revision-id": 1, "native-id": name, "provider-id": "NSIDC_CPRD",
                     "revision-date": self.revised(name).isoformat().replace("+00:00", "Z")},
            "umm": {
                "GranuleUR": name,
                "TemporalExtent": {"RangeDateTime": {"BeginningDateTime": iso, "EndingDateTime": iso_end}},
                "RelatedUrls": [
                    {"URL": f"https://{self.host}/data/{name}", "Type": "GET DATA", "Description": f"Download {name}"},
                    {"URL": f"s3://nsidc-cumulus-prod-protected/{name}", "Type": "GET DATA VIA DIRECT ACCESS"},
                ],
                "DataGranule": {"ArchiveAndDistributionInformation": [{
                    "Name": name, "SizeInBytes": path.stat().st_size, "Size": path.stat().st_size / 1e6, "SizeUnit": "MB",
                    "Checksum": {"Value": hashlib.sha256(path.read_bytes()).hexdigest(), "Algorithm": "SHA-256"},
                }]},
                "CollectionReference": {"ShortName": "SPL2SMAP_S", "Version": "003"},
            },
        }  # fmt: skip

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:  # keep test output clean
                pass

            def _send(
                self,
                code: int,
                body: bytes,
                ctype: str = "application/json",
                headers: dict | None = None,
            ) -> None:
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                fake.requests.append(f"POST {self.path}")
                if urlparse(self.path).path != "/api/users/find_or_create_token":
                    return self._send(404, b"{}")
                expected = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
                if self.headers.get("Authorization") != f"Basic {expected}":
                    body = {
                        "error": "invalid_credentials",
                        "error_description": "Invalid user credentials",
                    }
                    return self._send(401, json.dumps(body).encode())
                token = {
                    "access_token": TOKEN,
                    "token_type": "Bearer",
                    "expiration_date": "12/31/2099",
                }
                self._send(200, json.dumps(token).encode())

            def do_GET(self) -> None:  # noqa: N802
                url = urlparse(self.path)
                fake.requests.append(f"GET {url.path}")
                if url.path.startswith("/search/granules"):
                    query = parse_qs(url.query)
                    fake.queries.append(query)
                    names = sorted(fake.files)
                    if "temporal[]" in query:  # CMR: granules whose extent meets [from, to]
                        low, high = (
                            date.fromisoformat(t[:10]) for t in query["temporal[]"][0].split(",")
                        )
                        names = [
                            n for n in names
                            if fake.extent(n)[0] <= high and fake.extent(n)[1] >= low
                        ]  # fmt: skip
                    if "revision_date[]" in query:  # CMR: revised within [from, to]
                        low, high = (
                            datetime.fromisoformat(t.replace("Z", "+00:00")) if t else None
                            for t in query["revision_date[]"][0].split(",")
                        )
                        names = [
                            n for n in names
                            if low <= fake.revised(n) and (high is None or fake.revised(n) <= high)
                        ]  # fmt: skip
                    items = (
                        [] if query.get("page_size") == ["0"] else [fake.umm_item(n) for n in names]
                    )
                    body = {"hits": len(names), "took": 5, "items": items}
                    return self._send(
                        200, json.dumps(body).encode(), headers={"CMR-Hits": str(len(names))}
                    )
                if url.path == "/profile":  # earthaccess opens a session on the EDL profile page
                    return self._send(200, b"<html>profile</html>", "text/html")
                if url.path.startswith("/data/"):
                    name = url.path.rsplit("/", 1)[-1]
                    if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                        return self._send(401, b"unauthorized", "text/plain")
                    if name in fake.missing or name not in fake.files:
                        return self._send(404, b"not found", "text/plain")
                    if fake.busy.get(name, 0) > 0:
                        fake.busy[name] -= 1
                        return self._send(503, b"busy", "text/plain")
                    return self._send(200, fake.files[name].read_bytes(), "application/x-hdf5")
                self._send(404, b"{}")

        return Handler
