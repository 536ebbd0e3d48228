"""The discretes' maintenance route: PUT /api/v1/outputs/{name} {"value": true | false} (audited)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from aiohttp import web

from appliance.jsonhttp import error, json_body

if TYPE_CHECKING:
    from appliance.discretes.component import DiscretesComponent

log = logging.getLogger("appliance.discretes")


def routes(discretes: DiscretesComponent) -> list[web.RouteDef]:
    async def set_output(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        body = await json_body(request)
        value = body.get("value")
        if not isinstance(value, bool) or set(body) != {"value"}:
            return error(400, 'expected {"value": true | false}')
        try:
            discretes.set_output(name, value, actor="maintenance")
        except KeyError:
            return error(404, f"no discrete signal {name!r}")
        except ValueError as problem:
            return error(409, f"{name} cannot be set: {problem}")
        except Exception as problem:  # the audit line could not be written, the pins are gone: nothing changed
            log.warning("output %s not set: %s", name, problem)
            return error(503, f"{name} not set: {problem}")
        log.info("output %s set to %s by maintenance", name, value)
        return web.json_response({"name": name, "value": value})

    return [web.put("/api/v1/outputs/{name}", set_output)]
