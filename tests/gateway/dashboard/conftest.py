"""The dashboard tests' browser: Debian's headless Chromium driven by selenium (nothing is
downloaded), and the folder its screenshots are kept in for people to look at."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

from devservices.paths import CACHE_DIR

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
# Kept after the run (CI keeps .cache/screenshots as artifacts).
SCREENSHOTS = CACHE_DIR / "screenshots"


@pytest.fixture
def browser() -> Iterator[webdriver.Chrome]:
    if not (shutil.which(CHROMIUM) and shutil.which(CHROMEDRIVER)):
        pytest.fail(
            "chromium and chromium-driver are missing: run scripts/install-system-packages.sh"
        )
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--window-size=1400,1000",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def screenshots() -> Path:
    """Where a test saves its screenshots (printed, so a run's log says where to look)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    print(f"dashboard screenshots: {SCREENSHOTS}")
    return SCREENSHOTS
