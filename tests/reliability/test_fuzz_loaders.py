"""Fuzzing the image and mask loaders (hypothesis), and replaying the corpus of earlier finds.

The only exception the loaders may raise is ImageLoadError. A crash found here is written to
.pytest_cache/d/reliability/fuzz-finds/ so it can join tests/reliability/corpus/ (see
fuzzing.py for the longer campaign that grew the corpus).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from app import imageio
from tests.reliability.fuzzing import (
    CORPUS,
    FUZZ_MAX_PIXELS,
    LOADERS,
    SEED_NAMES,
    SEEDS,
    SIZE,
    expected,
    mutate,
    outcome_of,
)

pytestmark = pytest.mark.reliability

ROOT = Path(__file__).resolve().parents[2]
KINDS = ["flip", "set", "insert", "delete", "truncate", "duplicate", "big16", "big32"]
EXAMPLES = 150

mutations = st.lists(
    st.tuples(st.sampled_from(KINDS), st.integers(0, 1 << 20), st.integers(0, 1 << 16)),
    min_size=1,
    max_size=4,
)


def _kind(outcome: str) -> str:
    """Outcome without the decoder's own words (they vary between Pillow versions)."""
    return outcome.split(" (")[0]


@pytest.mark.parametrize("loader", sorted(LOADERS))
def test_fuzzed_files_only_ever_raise_image_load_error(loader, tmp_path, monkeypatch, request,
                                                       report):
    monkeypatch.setattr(imageio.formats, "max_pixels", FUZZ_MAX_PIXELS)
    load = LOADERS[loader]
    counts: Counter[str] = Counter()
    finds = Path(request.config.cache.mkdir("reliability")) / "fuzz-finds"

    @settings(max_examples=EXAMPLES, deadline=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    @given(seed=st.sampled_from(SEED_NAMES), muts=mutations)
    def run(seed: str, muts: list) -> None:
        data = mutate(SEEDS[seed], muts)
        path = tmp_path / f"fuzz{Path(seed).suffix}"
        path.write_bytes(data)
        try:
            outcome = outcome_of(load, path)
        except Exception:
            finds.mkdir(exist_ok=True)
            (finds / f"crash_{loader}_{abs(hash(data)) % 10**8}{path.suffix}").write_bytes(data)
            raise
        counts["ok" if outcome == "ok" else "refused"] += 1

    run()
    report.add("Fuzzing", f"{loader} loader: {sum(counts.values())} mutated files "
               f"({', '.join(SEED_NAMES)})",
               f"{counts['ok']} opened, {counts['refused']} refused with ImageLoadError, 0 crashes",
               True)


CORPUS_FILES = sorted(expected())


@pytest.mark.parametrize("name", CORPUS_FILES)
def test_corpus_replays_with_the_recorded_outcome(name, monkeypatch, report):
    monkeypatch.setattr(imageio.formats, "max_pixels", FUZZ_MAX_PIXELS)
    path = CORPUS / name
    recorded = expected()[name]
    got = {loader: outcome_of(load, path) for loader, load in LOADERS.items()}
    same = all(_kind(got[k]) == _kind(recorded[k]) for k in LOADERS)
    report.add("Fuzzing corpus", name, f"image: {got['image']}; mask: {got['mask']}", same)
    for loader in LOADERS:
        assert _kind(got[loader]) == _kind(recorded[loader]), loader


def test_corpus_is_small():
    total = sum(p.stat().st_size for p in CORPUS.iterdir())
    assert total < 200_000, f"the corpus grew to {total} bytes"


@pytest.mark.slow
def test_refused_corpus_files_through_the_real_cli_give_one_line(tmp_path, report):
    """Damaged TIFFs make libtiff print its own warnings to stderr: they must not get out."""
    Image.new("L", SIZE, 255).save(tmp_path / "mask.png")
    refused = [n for n in CORPUS_FILES if expected()[n]["image"] != "ok"]

    def run(name: str) -> tuple[str, subprocess.CompletedProcess]:
        proc = subprocess.run(
            [sys.executable, str(ROOT / "main.py"), "inpaint", str(CORPUS / name),
             "--mask", str(tmp_path / "mask.png"), "-o", str(tmp_path / f"{name}.png")],
            capture_output=True, text=True, timeout=120, cwd=tmp_path,
        )
        return name, proc

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(run, refused))
    bad = []
    for name, proc in results:
        lines = proc.stderr.strip().splitlines()
        ok = proc.returncode == 2 and len(lines) == 1 and "Traceback" not in proc.stderr
        report.add("Fuzzing corpus", f"{name} through the CLI",
                   f"exit {proc.returncode}, {len(lines)} stderr line(s)", ok)
        if not ok:
            bad.append((name, proc.returncode, lines))
    assert not bad, json.dumps(bad, indent=1)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mask.png"]
