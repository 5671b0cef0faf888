"""Screenshots of the reader for the documentation (docs/img/*.png), over the bundled sample.

    apt-get install chromium chromium-driver   # or: make browser
    python scripts/screenshots.py [--out docs/img]

Builds a database from the bundled sample in a temporary folder, serves it on a free
127.0.0.1 port, and captures the home page, a search, an article (desktop and phone) and
the dark theme with Arabic-Indic digits, in headless Chromium.
"""

from __future__ import annotations

import argparse
import base64
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import quote

import uvicorn
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

from marsad.cli import sample_inputs
from marsad.pipeline import ingest
from marsad.store.sqlite import SQLiteStore
from marsad.web import WebSettings, create_app

REPO = Path(__file__).resolve().parents[1]
PHONE = {"width": 390, "height": 844, "deviceScaleFactor": 2, "mobile": True}


def serve(db: Path) -> tuple[str, uvicorn.Server]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(WebSettings(db=str(db))), host="127.0.0.1", port=port,
                                           log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    return f"http://127.0.0.1:{port}", server


def shoot(driver, url: str, path: Path, *, phone: bool = False, height: int = 900) -> None:
    if phone:
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", PHONE)
    else:
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                               {"width": 1280, "height": height, "deviceScaleFactor": 1, "mobile": False})
    driver.get(url)
    driver.execute_async_script("document.fonts.ready.then(arguments[arguments.length - 1])")
    time.sleep(0.3)
    data = driver.execute_cdp_cmd("Page.captureScreenshot", {"format": "png"})
    path.write_bytes(base64.b64decode(data["data"]))
    print(f"{path} ({path.stat().st_size // 1024} KiB)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "img")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    parser.add_argument("--chromedriver", default="/usr/bin/chromedriver")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as folder:
        db = Path(folder) / "sample.db"
        with SQLiteStore(db) as store:
            ingest(store, sample_inputs(), enrich=False)
            article = store.conn.execute(
                "SELECT id FROM articles WHERE source = 'واس' AND length(text) > 600 ORDER BY published_at DESC"
            ).fetchone()[0]
        base, server = serve(db)
        options = webdriver.ChromeOptions()
        options.binary_location = args.chromium
        for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--hide-scrollbars",
                         "--force-color-profile=srgb", "--lang=ar"):
            options.add_argument(argument)
        driver = webdriver.Chrome(options=options, service=Service(args.chromedriver))
        try:
            shoot(driver, base + "/", args.out / "home.png")
            shoot(driver, base + "/search?q=" + quote("وِزَارَةُ الصِّحَّةِ"), args.out / "search.png")
            shoot(driver, base + f"/articles/{article}", args.out / "article.png")
            shoot(driver, base + "/", args.out / "home-phone.png", phone=True)
            shoot(driver, base + f"/articles/{article}", args.out / "article-phone.png", phone=True)
            driver.get(base + "/")
            driver.add_cookie({"name": "marsad_prefs", "value": "lang=ar&digits=arab&theme=dark&hijri=1&size=m"})
            shoot(driver, base + f"/articles/{article}", args.out / "article-dark.png")
        finally:
            driver.quit()
            server.should_exit = True
    return 0


if __name__ == "__main__":
    sys.exit(main())
