"""The README's Python examples run as written."""
from __future__ import annotations

import re
from pathlib import Path


def test_readme_python_blocks_run():
    text = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert blocks
    namespace: dict = {}  # one session: later blocks use what earlier ones defined
    for block in blocks:
        exec(compile(block, "README.md", "exec"), namespace)
