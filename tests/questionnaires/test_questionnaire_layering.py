"""The questionnaires package is the bottom layer: it imports no chat, HTTP or storage code."""

import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_importing_questionnaires_loads_no_platform_http_or_storage_module():
    script = (
        "import sys, questionnaires\n"
        "questionnaires.load_bundled()\n"
        "banned = ('telegram', 'httpx', 'fastapi', 'starlette', 'sqlalchemy', 'storage',"
        " 'handlers', 'channels', 'web', 'bot')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in banned))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO_ROOT,
    )
    assert result.stdout.strip() == "[]"
