"""Takes the README's screenshots of a running trialhub (a dev tool, not part of the app).

usage: .venv/bin/python docs/images/make_screenshots.py http://127.0.0.1:8000 [consent-token]
Needs Debian's chromium (/usr/bin/chromium) and `pip install playwright`; it never
downloads a browser.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
OUT = Path(__file__).parent


def main(base: str, consent_token: str | None) -> None:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=FLAGS)
        page = browser.new_page(viewport={"width": 1100, "height": 720})
        page.goto(f"{base}/")
        page.screenshot(path=OUT / "landing.png")
        page.goto(f"{base}/mailbox")
        page.screenshot(path=OUT / "mailbox.png")
        link = page.get_by_role("link", name=re.compile("ends in 7 days")).first
        if link.count():
            link.click()
            page.wait_for_load_state()
            page.screenshot(path=OUT / "notice.png", full_page=True)
        if consent_token:
            page.goto(f"{base}/consent/{consent_token}")
            page.screenshot(path=OUT / "consent.png")
        browser.close()


if __name__ == "__main__":
    main(sys.argv[1].rstrip("/"), sys.argv[2] if len(sys.argv) > 2 else None)
