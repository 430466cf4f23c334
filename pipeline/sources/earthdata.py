"""NASA Earthdata through earthaccess: login without prompts, CMR search, HTTPS download.

Credentials come from EARTHDATA_USERNAME/EARTHDATA_PASSWORD or EARTHDATA_TOKEN, else from
~/.netrc; they are never logged, printed or written anywhere. Offline, earthaccess raises plain
`requests` errors, and a search that is not logged in returns an empty list: both become one
SourceError line that names SOURCE=sample as the offline way.
"""

from __future__ import annotations

import logging
import netrc
import os
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import requests

from pipeline.catalog import Product, Region
from pipeline.errors import SourceError, TransferError
from pipeline.sources.base import Granule, scene_and_counter

log = logging.getLogger("pipeline")
EDL_HOST = "urs.earthdata.nasa.gov"
OFFLINE = "run offline with SOURCE=sample"
RETRY_STATUS = {429, 500, 502, 503, 504}


def credentials_strategy(
    environ: dict[str, str] | None = None, netrc_path: Path | None = None
) -> str:
    """'environment' or 'netrc', whichever holds Earthdata credentials; else a SourceError."""
    env = os.environ if environ is None else environ
    if (env.get("EARTHDATA_USERNAME") and env.get("EARTHDATA_PASSWORD")) or env.get(
        "EARTHDATA_TOKEN"
    ):
        return "environment"
    path = netrc_path or Path(env.get("NETRC", Path.home() / ".netrc"))
    try:
        if path.is_file() and netrc.netrc(path).authenticators(EDL_HOST):
            return "netrc"
    except (netrc.NetrcParseError, OSError):
        raise SourceError(f"{path} cannot be parsed; fix the 'machine {EDL_HOST}' entry") from None
    raise SourceError(
        "no Earthdata credentials: set EARTHDATA_USERNAME and EARTHDATA_PASSWORD (or "
        f"EARTHDATA_TOKEN), or add 'machine {EDL_HOST} login ... password ...' to ~/.netrc; "
        f"or {OFFLINE}"
    )


def granule_record(product: Product, umm_item: dict[str, Any]) -> Granule:
    """A CMR UMM-G search item (as earthaccess's DataGranule holds it) -> Granule."""
    umm = umm_item["umm"]
    links = [
        u["URL"]
        for u in umm.get("RelatedUrls", [])
        if u.get("Type") == "GET DATA" and u["URL"].startswith("https://")
        and not u["URL"].endswith((".sha256", ".md5", ".xml", ".json"))
    ]  # fmt: skip
    if not links:
        raise SourceError(f"{umm.get('GranuleUR')}: CMR lists no HTTPS data link for it")
    url = links[0]
    name = url.rsplit("/", 1)[-1]
    scene, counter = scene_and_counter(name)
    info = umm.get("DataGranule", {}).get("ArchiveAndDistributionInformation") or [{}]
    entry = next((i for i in info if i.get("Name") in (name, "Not provided")), info[0])
    checksum = entry.get("Checksum") or {}
    begin = umm.get("TemporalExtent", {}).get("RangeDateTime", {}).get("BeginningDateTime")
    day = datetime.fromisoformat(begin.replace("Z", "+00:00")).date() if begin else date(1970, 1, 1)
    meta = umm_item.get("meta", {})
    revision = counter if counter else int(meta.get("revision-id", 0))
    size = entry.get("SizeInBytes")
    return Granule(
        product=product.name,
        name=name,
        url=url,
        day=day,
        scene=scene,
        revision=revision,
        size=int(size) if size is not None else None,
        checksum=checksum.get("Value"),
        algorithm=checksum.get("Algorithm"),
        revised=meta.get("revision-date"),
        native_id=meta.get("native-id"),
    )


class EarthdataSource:
    """Search CMR and download over HTTPS with an Earthdata Login bearer token."""

    name = "earthdata"

    def __init__(self, *, tries: int = 4, backoff_s: float = 2.0, system: Any = None) -> None:
        self.tries, self.backoff_s, self.system = tries, backoff_s, system
        self._session: requests.Session | None = None

    def login(self) -> None:
        import earthaccess
        from earthaccess.exceptions import LoginAttemptFailure, LoginStrategyUnavailable

        strategy = credentials_strategy()
        kw = {"system": self.system} if self.system is not None else {}
        try:
            auth = earthaccess.login(strategy=strategy, persist=False, **kw)
        except LoginAttemptFailure:
            raise SourceError(
                "Earthdata Login rejected the credentials: check EARTHDATA_USERNAME/PASSWORD or "
                "~/.netrc, and that the account has accepted the data EULAs"
            ) from None
        except LoginStrategyUnavailable as exc:
            raise SourceError(f"Earthdata credentials unusable ({exc}); {OFFLINE}") from None
        except requests.RequestException:
            raise SourceError(
                f"cannot reach Earthdata Login ({EDL_HOST}): no network? {OFFLINE}"
            ) from None
        if auth is None or not getattr(auth, "authenticated", False):
            raise SourceError(f"Earthdata login failed; check the credentials, or {OFFLINE}")
        self._session = earthaccess.get_requests_https_session()

    def search(
        self, product: Product, region: Region, year: int, revised_since: datetime | None = None
    ) -> list[Granule]:
        """CMR's listing of the product over the region-year (and its lead-in days before the
        year, for a product that has them); with `revised_since`, only the granules added or
        reissued since then (CMR `revision_date`)."""
        import earthaccess

        if self._session is None:
            self.login()
        first = date(year, 1, 1) - timedelta(days=product.lead_in.days if product.lead_in else 0)
        query: dict[str, Any] = {
            "short_name": product.short_name,
            "version": product.version,
            "temporal": (f"{first:%Y-%m-%d}T00:00:00Z", f"{year}-12-31T23:59:59Z"),
            "bounding_box": region.grid.lonlat_bbox(),
        }
        if revised_since is not None:
            query["revision_date"] = (revised_since, None)  # open-ended: up to now
        try:
            found = earthaccess.search_data(**query)
        except requests.RequestException:
            raise SourceError(
                f"cannot reach CMR (cmr.earthdata.nasa.gov): no network? {OFFLINE}"
            ) from None
        return [granule_record(product, dict(g)) for g in found]

    def fetch(self, granule: Granule, dest: Path) -> None:
        """Stream one file to `dest`, retrying timeouts and 5xx only (not 401/403/404)."""
        if self._session is None:
            self.login()
        assert self._session is not None
        for attempt in range(1, self.tries + 1):
            try:
                with self._session.get(granule.url, stream=True, timeout=(20, 300)) as resp:
                    if resp.status_code in (401, 403):
                        raise SourceError(
                            f"{granule.name}: access refused ({resp.status_code}); log in to "
                            "urs.earthdata.nasa.gov and accept this dataset's EULA, then retry"
                        )
                    if resp.status_code == 404:
                        raise TransferError(f"{granule.name}: not found at {granule.url} (404)")
                    if resp.status_code in RETRY_STATUS:
                        raise _Transient(f"HTTP {resp.status_code}")
                    resp.raise_for_status()
                    with open(dest, "wb") as f:
                        for block in resp.iter_content(1 << 20):
                            f.write(block)
                return
            except (
                _Transient,
                requests.ConnectionError,
                requests.Timeout,
                requests.exceptions.ChunkedEncodingError,
            ) as exc:
                if attempt == self.tries:
                    raise TransferError(
                        f"{granule.name}: gave up after {attempt} tries ({exc})"
                    ) from None
                wait = self.backoff_s * 2 ** (attempt - 1)
                log.warning("%s: %s, retrying in %.0fs", granule.name, exc, wait)
                time.sleep(wait)
            except requests.RequestException as exc:  # not worth retrying (bad URL, TLS, ...)
                raise TransferError(f"{granule.name}: download failed ({exc})") from None


class _Transient(Exception):
    """A failure worth retrying (server busy or broken for a moment)."""
