"""What the daemon loads to build its components leaves out the libraries only a ground window needs, and
those only work after READY=1 needs.

python-tuf and securesystemslib (the trust gate) are imported at the first refresh (appliance/trust/component.py);
numpy (the avionics bulk decoder, hal/arinc429/bulk.py) after READY (appliance/avionics/reader.py). A
module-level import of any of them in a builder's module, or in anything it imports, fails here. (cryptography
is not on the list: the portal reads its HTTPS certificate at start.)
"""

from __future__ import annotations

import json
import subprocess
import sys

from appliance.core.registry import load_specs
from appliance.core.spec import Deferred
from tests.conftest import subprocess_env

WINDOW_ONLY = ("tuf", "securesystemslib")
AFTER_READY = ("numpy",)
NOT_AT_START = {*WINDOW_ONLY, *AFTER_READY}


def test_building_imports_no_window_only_or_after_ready_library() -> None:
    modules = ["appliance.daemon"] + [s.build.module for s in load_specs() if isinstance(s.build, Deferred)]
    code = (f"import importlib, json, sys; [importlib.import_module(m) for m in {modules!r}]; "
            f"print(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}} & {NOT_AT_START!r})))")
    out = subprocess.run([sys.executable, "-c", code], env=subprocess_env(), capture_output=True, text=True,
                         check=True).stdout
    loaded = json.loads(out)
    assert loaded == [], f"the builders' modules import {loaded} at start: import them where they are used"
