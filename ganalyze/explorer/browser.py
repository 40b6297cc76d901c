"""Open a built explorer in headless Chromium (Debian's chromium and chromium-driver, driven by selenium; nothing
is downloaded): the browser test uses it, and ``python -m ganalyze.explorer.browser SITE PNG`` takes a screenshot."""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ganalyze.atomic import write_bytes
from ganalyze.errors import ConfigError

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync")


def browser_missing() -> str | None:
    """Why headless Chromium cannot run here (None when it can)."""
    if importlib.util.find_spec("selenium") is None:
        return "selenium is not installed (pip install -e '.[dev]')"
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    return f"{', '.join(missing)} missing (apt-get install -y chromium chromium-driver)" if missing else None


@contextlib.contextmanager
def headless_chromium(width: int = 1440, height: int = 1000) -> Iterator[Any]:
    """A selenium driver of headless Chromium with a fresh profile, keeping the page's console log."""
    problem = browser_missing()
    if problem:
        raise ConfigError(f"headless Chromium is not available: {problem}.")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    os.environ.setdefault("SE_OFFLINE", "true")  # selenium must not look for a browser or driver online
    with tempfile.TemporaryDirectory(prefix="ganalyze-chromium-") as profile:
        options = webdriver.ChromeOptions()
        options.binary_location = str(CHROMIUM)
        for flag in (*FLAGS, f"--user-data-dir={profile}", f"--window-size={width},{height}"):
            options.add_argument(flag)
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
        try:
            yield driver
        finally:
            driver.quit()


def site_url(site: str | os.PathLike) -> str:
    """The file:// address of a site's index.html."""
    return (Path(site).resolve() / "index.html").as_uri()


def screenshot(site: str | os.PathLike, path: str | os.PathLike, width: int = 1440, height: int | None = 1100,
               click: bool = True) -> Path:
    """Save a screenshot of the site as it opens, ``height`` pixels tall (None: the whole page), with the details
    of one image shown if ``click``."""
    with headless_chromium(width, height or 1000) as driver:
        driver.get(site_url(site))
        if click:  # the first run's first seed, pushed furthest
            figures = driver.find_elements("css selector", "#blocks > section:first-child tbody tr:first-child figure")
            if figures:
                figures[-1].click()
        full = driver.execute_script("window.scrollTo(0, 0); return document.documentElement.scrollHeight")
        driver.set_window_size(width, int(height or full + 40))
        return write_bytes(path, driver.get_screenshot_as_png())


def main() -> None:
    """python -m ganalyze.explorer.browser SITE PNG [--width W] [--height H]: a screenshot of a built explorer."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("site")
    parser.add_argument("png")
    parser.add_argument("--width", type=int, default=1440)
    parser.add_argument("--height", type=int, default=1100, help="0: the whole page")
    args = parser.parse_args()
    print(screenshot(args.site, args.png, args.width, args.height or None))


if __name__ == "__main__":
    main()
