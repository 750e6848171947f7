"""Wire details of the X simulator: error bodies, paging, parameters, OAuth 1.0a checking."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from aiohttp import web
from oauthlib.oauth1.rfc5849 import signature

from tests.sims.x_sim_state import TWITTER_EPOCH_MS


def problem(status: int, title: str, detail: str, kind: str = "about:blank") -> web.Response:
    body = {"title": title, "detail": detail, "type": kind, "status": status}
    return web.json_response(body, status=status)


def invalid(detail: str, parameter: str) -> web.Response:
    body = {
        "errors": [{"parameters": {parameter: []}, "message": detail}],
        "title": "Invalid Request",
        "detail": "One or more parameters to your request was invalid.",
        "type": "https://api.twitter.com/2/problems/invalid-request",
    }
    return web.json_response(body, status=400)


def oauth1_valid(request: web.Request, header: str, creds: dict[str, str]) -> bool:
    """Recompute the HMAC-SHA1 signature over the URL tweepy signed (api.twitter.com)."""
    params = signature.collect_parameters(
        uri_query=request.query_string,
        headers={"Authorization": header},
        exclude_oauth_signature=False,
    )
    given = dict(params)
    if given.get("oauth_consumer_key") != creds["X_CONSUMER_KEY"]:
        return False
    if given.get("oauth_token") != creds["X_ACCESS_TOKEN"]:
        return False
    base = signature.signature_base_string(
        request.method,
        signature.base_string_uri("https://api.twitter.com" + request.path),
        signature.normalize_parameters([p for p in params if p[0] != "oauth_signature"]),
    )
    secrets = (creds["X_CONSUMER_SECRET"], creds["X_ACCESS_TOKEN_SECRET"])
    key = "&".join(quote(secret, safe="~") for secret in secrets)
    digest = hmac.new(key.encode(), base.encode(), hashlib.sha1).digest()
    expected = base64.b64encode(digest).decode()
    return hmac.compare_digest(expected, given.get("oauth_signature", ""))


def html_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def int_param(value: str | None, default: int) -> int | None:
    if value is None:
        return default
    return int(value) if value.isdigit() else None


def requested(query: Any, name: str) -> set[str]:
    return {f for f in query.get(name, "").split(",") if f}


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def snowflake_time(ident: str) -> datetime:
    return datetime.fromtimestamp(((int(ident) >> 22) + TWITTER_EPOCH_MS) / 1000, tz=UTC)


def page_token(last_id: str, prefix: str = "n") -> str:
    return base64.b32encode(f"{prefix}{last_id}".encode()).decode().rstrip("=").lower()


def _untoken(token: str) -> str | None:
    try:
        raw = base64.b32decode(token.upper() + "=" * (-len(token) % 8)).decode()
    except (ValueError, UnicodeDecodeError):
        return None
    return raw[1:] if raw[:1] == "n" and raw[1:].isdigit() else None


def window(items: list[Any], q: Any, token_param: str) -> list[Any] | None:
    """Newest first, after since_id / until_id / start_time / end_time and the page token."""
    chosen = sorted(items, key=lambda i: int(i.id), reverse=True)
    if q.get("since_id"):
        chosen = [i for i in chosen if int(i.id) > int(q["since_id"])]
    if q.get("until_id"):
        chosen = [i for i in chosen if int(i.id) < int(q["until_id"])]
    for bound, keep in (("start_time", lambda a, b: a >= b), ("end_time", lambda a, b: a < b)):
        if q.get(bound):
            at = parse_time(q[bound])
            chosen = [i for i in chosen if keep(i.created_at, at)]
    if q.get(token_param):
        after = _untoken(q[token_param])
        if after is None:
            return None
        chosen = [i for i in chosen if int(i.id) < int(after)]
    return chosen
