"""The short soak of ``make test``: scripts/soak.py for APIKEYS_SOAK_SECONDS (default 20) s.

No call may fail and the server's RSS must level off (the script's own checks, see its
--help); ``make soak`` runs the long version.
"""

import json
import os
import subprocess
import sys

from conftest import REPO_ROOT, apikeysd_path

SECONDS = float(os.environ.get("APIKEYS_SOAK_SECONDS", "20"))


def test_short_soak(tmp_path):
    out = tmp_path / "soak.json"
    proc = subprocess.run(
        [sys.executable, str(REPO_ROOT / "scripts" / "soak.py"), "--seconds", str(SECONDS),
         "--connections", "8", "--apikeysd", str(apikeysd_path()), "--json", str(out)],
        capture_output=True, text=True, timeout=SECONDS + 120)
    print("\n[reliability] " + proc.stdout)
    assert proc.returncode == 0, f"soak failed:\n{proc.stdout}\n{proc.stderr[-3000:]}"
    result = json.loads(out.read_text())
    assert result["errors"] == 0
    assert result["rss_mib"]["levels_off"]
    assert result["calls"] > 1000
