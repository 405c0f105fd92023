"""The dashboard's model and its hook for the deploy side stay free of Textual."""

from __future__ import annotations

import json
import subprocess
import sys


def test_feed_state_and_pod_details_import_without_textual():
    code = (
        "import kudev.screens.feed, kudev.screens.state, kudev.deploy.pod_details\n"
        "import sys, json; print(json.dumps(sorted(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = set(json.loads(out.stdout.splitlines()[-1]))
    assert not {m for m in loaded if m.split(".")[0] == "textual"}
