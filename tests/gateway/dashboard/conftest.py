"""The dashboard tests' browser: Debian's headless Chromium driven by selenium (nothing is
downloaded). Every test saves screenshots at its key moments, and one more when it fails,
under .cache/artifacts/screenshots/ (tests/gateway/dashboard/artifacts.py); the run's
summary prints that folder, so `make test` and `.ci/run` say where to look."""

from __future__ import annotations

import shutil
from collections.abc import Generator, Iterator
from pathlib import Path

import pytest
from _pytest.terminal import TerminalReporter
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

from tests.gateway.dashboard.artifacts import (
    SCREENSHOTS,
    clear_screenshots,
    screenshot_dir,
    screenshot_files,
    screenshot_path,
)

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
FAILED = pytest.StashKey[bool]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.when == "call" and report.failed:
        item.stash[FAILED] = True  # the browser fixture's teardown screenshots the page
    return report


@pytest.fixture
def browser(request: pytest.FixtureRequest) -> Iterator[webdriver.Chrome]:
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
        try:
            if request.node.stash.get(FAILED, False):
                path = screenshot_path(f"FAILED-{request.node.name}.png")
                driver.save_screenshot(str(path))
                print(f"screenshot of the failure: {path}")
        finally:
            driver.quit()


@pytest.fixture
def screenshots() -> Path:
    """Where a test saves its screenshots (created)."""
    return screenshot_dir()


def pytest_collection_finish(session: pytest.Session) -> None:
    if not session.config.option.collectonly:
        clear_screenshots()


def pytest_terminal_summary(terminalreporter: TerminalReporter) -> None:
    files = screenshot_files()
    if files:
        terminalreporter.write_line(f"browser screenshots: {SCREENSHOTS} ({len(files)} files)")
