"""The update component: the daemon's own releases from the ground, installed offline beside the running one,
switched by one symlink at a safe moment, kept only if they prove themselves healthy (docs/update.md).

- `manifest`  release.json: version, Python, the state formats read and written, the wheels
- `layout`    releases/<v>, the current/committed/previous links and the trial: the crash-safe state machine
- `install`   a venv and `pip install --no-index` of the release's wheels
- `fetch`     resumable, budgeted Range fetches verified against the signed targets
- `window`    what one ground window does for releases (ports.UPDATER.window)
- `component` the trial (commit or roll back), the safe moment, status and metrics
- `cli`       `appliance release build|status|rollback|preflight|install`
"""

from __future__ import annotations

from typing import Any

from appliance import ports
from appliance.core.spec import ASSEMBLY, ComponentSpec, deferred
from appliance.update.config import UpdateConfig


def _status(component: Any) -> Any:
    return component.status()


COMPONENT = ComponentSpec(
    name="update",
    config=UpdateConfig,
    build=deferred("appliance.update.component:build"),
    provides=(ports.UPDATER,),
    requires=(ports.STATE_DIR,),
    uses=(ports.FLIGHT, ASSEMBLY),
    status={"release": _status},
    cli=deferred("appliance.update.cli:add_parser"),
)
