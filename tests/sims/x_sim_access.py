"""The X simulator's app permissions: what X answers a user token whose app lacks one.

An app has one of three OAuth 1.0a permission levels, set in the developer portal ("Read",
"Read and write", "Read and write and Direct message"), and a user access token keeps the
level it was generated with. X answers a user-context request to an endpoint above that
level with 403 and the ``oauth1-permissions`` problem below, body as X sends it (reported
verbatim in plhery/node-twitter-api-v2#493). tweepy keeps only its ``detail`` (as
``api_messages``; ``api_errors`` and ``api_codes`` are empty); the ``type`` is in the body.
"""

from __future__ import annotations

from aiohttp import web

from tests.sims.x_sim_wire import problem

OAUTH1_PERMISSIONS = "https://api.twitter.com/2/problems/oauth1-permissions"
OAUTH1_PERMISSIONS_DETAIL = (
    "Your client app is not configured with the appropriate oauth1 app permissions for this "
    "endpoint."
)
READ, READ_WRITE, READ_WRITE_DM = "read", "read-write", "read-write-directmessages"
LEVELS = (READ, READ_WRITE, READ_WRITE_DM)  # as X's x-access-level header names them
# The level each user-context endpoint (by the simulator's route name) needs; others: READ.
NEEDS = {
    "create_tweet": READ_WRITE,
    "dm_events": READ_WRITE_DM,
    "dm_with": READ_WRITE_DM,
    "create_dm": READ_WRITE_DM,
}


def oauth1_permissions() -> web.Response:
    """X's 403 to an app (or a token) whose permission level does not cover the endpoint."""
    return problem(403, "Forbidden", OAUTH1_PERMISSIONS_DETAIL, OAUTH1_PERMISSIONS)


def refusal(level: str, endpoint: str) -> web.Response | None:
    """The 403 for a token of ``level`` calling ``endpoint``, or None when it may."""
    if level not in LEVELS:
        raise ValueError(f"unknown app permission level {level!r}; one of {LEVELS}")
    needed = NEEDS.get(endpoint, READ)
    return oauth1_permissions() if LEVELS.index(level) < LEVELS.index(needed) else None
