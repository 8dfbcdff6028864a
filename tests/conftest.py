"""Shared fixtures: the data root, hypothesis profiles, in-memory sources."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

REPO = Path(__file__).resolve().parent.parent

settings.register_profile("default", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("thorough", max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


def _data_root() -> Path | None:
    env = os.environ.get("SIM_DATA_DIR")
    if env:
        return Path(env) if Path(env).is_dir() else None
    p = REPO.parent / "shared" / "data"
    return p if p.is_dir() else None


@pytest.fixture(scope="session")
def data_root() -> Path:
    root = _data_root()
    if root is None:
        pytest.skip("recorded data root not present (SIM_DATA_DIR or ../shared/data)")
    return root


def pytest_collection_modifyitems(config, items):  # noqa: ANN001
    if _data_root() is None:
        skip = pytest.mark.skip(reason="recorded data root not present (SIM_DATA_DIR or ../shared/data)")
        for item in items:
            if "needs_data" in item.keywords:
                item.add_marker(skip)


CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")


@pytest.fixture(scope="session")
def browser():  # noqa: ANN201
    """Headless Debian chromium with every network request failing, for the HTML report tests."""
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        pytest.fail("the browser test needs /usr/bin/chromium and /usr/bin/chromedriver: run `make system-deps`")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = str(CHROMIUM)
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1280,1400",
              "--disable-dev-shm-usage", "--proxy-server=127.0.0.1:9",  # any network request would fail
              "--host-resolver-rules=MAP * ~NOTFOUND"):
        opts.add_argument(a)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=opts)
    try:
        yield driver
    finally:
        driver.quit()
