"""Post a saved Stat-Xplore query to the Open Data API (reproducible sourcing).

A query saved from Stat-Xplore ("Open Data API" in the download menu) is a JSON document with
``database``, ``measures`` and ``dimensions``. :func:`fetch` posts it to the ``/table``
endpoint with the user's API key in the ``APIKey`` header (urllib from the standard library,
no other dependency) and returns the response, checked to be a table response. The key is read
from the ``api_key`` argument or the ``STATXPLORE_API_KEY`` environment variable, never from the
command line (where other users of the machine could read it), and never written anywhere.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from pathlib import Path

from wpeval.exceptions import DataContractError, ParameterError

__all__ = ["API_KEY_ENV", "DEFAULT_URL", "fetch"]

DEFAULT_URL = "https://stat-xplore.dwp.gov.uk/webapi/rest/v1/table"
API_KEY_ENV = "STATXPLORE_API_KEY"


def _query(query) -> dict:
    if isinstance(query, dict):
        return query
    path = Path(query)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ParameterError(f"query file {str(path)!r} does not exist") from exc
    except json.JSONDecodeError as exc:
        raise ParameterError(f"query file {str(path)!r} is not valid JSON ({exc})") from exc
    if not isinstance(doc, dict) or "database" not in doc:
        raise ParameterError(
            f"query file {str(path)!r} is not a Stat-Xplore table query (no 'database' key)"
        )
    return doc


def fetch(
    query,
    *,
    api_key: str | None = None,
    url: str = DEFAULT_URL,
    out: str | Path | None = None,
    timeout: float = 120.0,
) -> dict:
    """POST a table query to Stat-Xplore and return (and optionally save) the response.

    Parameters
    ----------
    query : dict or str or path
        The query, or a JSON file holding it.
    api_key : str, optional
        Stat-Xplore API key; default ``$STATXPLORE_API_KEY``.
    url : str
        The ``/table`` endpoint (default Stat-Xplore's).
    out : str or path, optional
        Where to write the response JSON (as received, pretty-printed).
    timeout : float
        Seconds to wait for the server.

    Returns
    -------
    dict
        The parsed response (it holds ``cubes``).

    Raises
    ------
    ParameterError
        No API key, or an unreadable query file.
    DataContractError
        The server answered with an HTTP error (the status and the start of the body are in
        the message), with something other than JSON, or with JSON lacking ``cubes``.
    """
    body = json.dumps(_query(query)).encode("utf-8")
    key = api_key or os.environ.get(API_KEY_ENV)
    if not key:
        raise ParameterError(
            f"no Stat-Xplore API key: set {API_KEY_ENV} (your key is on your "
            "Stat-Xplore account page)"
        )
    req = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={"APIKey": key, "Content-Type": "application/json", "Accept": "application/json"},
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            raw = resp.read()
    except urllib.error.HTTPError as exc:
        detail = exc.read()[:300].decode("utf-8", "replace")
        raise DataContractError(
            f"Stat-Xplore answered HTTP {exc.code} {exc.reason} for {url}: {detail}",
            rule="statxplore_http",
        ) from exc
    except urllib.error.URLError as exc:
        raise DataContractError(
            f"could not reach {url}: {exc.reason}", rule="statxplore_http"
        ) from exc
    try:
        doc = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataContractError(
            f"{url} did not return JSON: {raw[:200]!r}", rule="statxplore_response_shape"
        ) from exc
    if not isinstance(doc, dict) or "cubes" not in doc:
        raise DataContractError(
            f"{url} returned JSON without 'cubes' (not a table response): {str(doc)[:200]}",
            column="cubes",
            rule="statxplore_response_shape",
        )
    if out is not None:
        Path(out).write_text(json.dumps(doc, indent=1), encoding="utf-8")
    return doc
