"""The README's Python examples run as written (in a scratch folder, their run folders under it), and the
README stays a user's guide (at most 12 KB)."""
from __future__ import annotations

import re

from .conftest import REPO, ofa_data_dir

README = REPO / "README.md"


def test_readme_python_blocks_run(tmp_path, monkeypatch):
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    assert blocks
    data = ofa_data_dir()
    if data is not None:
        monkeypatch.setenv("NAAS_OFA_DATA", str(data))
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}  # one session: later blocks use what earlier ones defined
    for block in blocks:
        if "naas.cosearch(" in block and data is None:
            continue  # needs OFA's predictor files
        exec(compile(block, "README.md", "exec"), namespace)
    assert (tmp_path / "runs" / "api-search" / "best.yaml").is_file()


def test_readme_is_a_guide_of_at_most_12_kb_whose_links_resolve():
    text = README.read_text()
    assert len(text.encode()) <= 12_000
    for link in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", text):
        assert (REPO / link).exists(), link
    assert "python -c \"import naas; print(naas.evaluate('resnet50', 'eyeriss').edp)\"" in text
