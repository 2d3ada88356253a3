"""PAL's real catalogue files, as its users have them, load unchanged (opt-in: -m real_config).

The fixtures in tests/pal_catalogues.py are written here from PAL's field structure; this tier checks the
claim against PAL's own files, which the repository does not carry. Point QUORUM_TEST_PAL_CONF at a copy of
PAL's `conf/` directory, e.g. `git --git-dir=<a clone>/.git archive HEAD conf | tar -x -C DIR`, then
`.venv/bin/python -m pytest -m real_config tests/test_pal_real_files.py`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from providers.catalogue import read_catalogue

pytestmark = pytest.mark.real_config

# PAL's file name for each Quorum provider catalogue.
FILES = {
    "openai": "openai_models.json", "gemini": "gemini_models.json", "xai": "xai_models.json",
    "openrouter": "openrouter_models.json", "custom": "custom_models.json", "azure": "azure_models.json",
    "dial": "dial_models.json",
}


def _conf() -> Path:
    where = os.environ.get("QUORUM_TEST_PAL_CONF", "")
    if not where:
        pytest.fail("QUORUM_TEST_PAL_CONF is not set: point it at a copy of PAL's conf/ directory")
    return Path(where)


@pytest.mark.parametrize("provider", sorted(FILES))
def test_a_real_pal_catalogue_loads_every_model_with_no_problem(provider: str) -> None:
    path = _conf() / FILES[provider]
    if not path.exists():
        pytest.fail(f"{path} is missing from QUORUM_TEST_PAL_CONF")
    entries = json.loads(path.read_text())["models"]
    loaded = read_catalogue(provider, path)
    assert loaded.problems == [], loaded.problems
    assert [m.model_name for m in loaded.models] == [e["model_name"] for e in entries]
    for entry, spec in zip(entries, loaded.models):
        assert spec.context_window == entry["context_window"], entry["model_name"]
        assert spec.use_responses_api == bool(entry.get("use_openai_response_api")), entry["model_name"]
        assert spec.supports_images == bool(entry.get("supports_images")), entry["model_name"]
        aliases = entry.get("aliases") or []
        if isinstance(aliases, str):
            aliases = [a.strip() for a in aliases.split(",") if a.strip()]
        assert {a.lower() for a in aliases} <= {a.lower() for a in spec.aliases}, entry["model_name"]
