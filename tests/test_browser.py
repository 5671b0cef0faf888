"""The reader in a real headless Chromium (Debian's chromium + chromium-driver, driven by selenium).

Opens the home page, searches an Arabic query typed with diacritics, opens a result, follows a
related article, and checks at desktop and phone widths that pages are right-to-left, use the
shipped Arabic fonts and overflow nothing. Screenshots go to artifacts/screenshots/.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from pathlib import Path

import pytest

from webapp import EXTRA, build_db

REPO = Path(__file__).resolve().parents[1]
SHOTS = REPO / "artifacts" / "screenshots"
CHROMIUM = os.environ.get("MARSAD_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("MARSAD_CHROMEDRIVER", "/usr/bin/chromedriver")
PHONE = {"width": 390, "height": 844, "deviceScaleFactor": 2, "mobile": True}
QUERY = "مِهْرَجَانُ التُّمُورِ"  # typed with its diacritics; the stored text has none


def _unavailable(reason: str):
    if os.environ.get("CI"):
        pytest.fail(f"browser tests cannot run: {reason} (run `make browser` or scripts/install_browser.sh)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The app on a free 127.0.0.1 port, served by uvicorn in a thread, over the sample database."""
    import uvicorn

    from marsad.web import WebSettings, create_app

    db = build_db(tmp_path_factory.mktemp("browser") / "browser.db")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    app = create_app(WebSettings(db=str(db)))
    instance = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=instance.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not instance.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("the web server did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    instance.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium; fails under CI when the browser is missing, skips elsewhere."""
    try:
        from selenium import webdriver
        from selenium.common.exceptions import WebDriverException
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        _unavailable("selenium is not installed")
    if not (Path(CHROMIUM).exists() or shutil.which("chromium")) or not Path(CHROMEDRIVER).exists():
        _unavailable(f"{CHROMIUM} or {CHROMEDRIVER} is missing")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--lang=ar",
                     "--hide-scrollbars", "--force-color-profile=srgb", "--window-size=1280,900"):
        options.add_argument(argument)
    options.add_experimental_option("prefs", {"intl.accept_languages": "ar"})
    try:
        driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    except WebDriverException as exc:
        _unavailable(f"chromium would not start: {exc.msg}")
    driver.set_page_load_timeout(30)
    SHOTS.mkdir(parents=True, exist_ok=True)
    yield driver
    driver.quit()


def _wait(driver, condition, timeout: float = 10.0):
    from selenium.common.exceptions import JavascriptException, StaleElementReferenceException
    from selenium.webdriver.support.ui import WebDriverWait

    # A script run while a navigation is still in flight can fail with its document; polling
    # again on the next page is the right answer, so those errors only mean "not yet".
    wait = WebDriverWait(driver, timeout, ignored_exceptions=(JavascriptException, StaleElementReferenceException))
    return wait.until(condition)


def _loaded(driver) -> None:
    """Wait for the document and its web fonts.

    Polled rather than awaited with execute_async_script: an async script started on a page that
    is being navigated away from never calls back, and hangs until the script timeout (seen in CI
    right after a form's POST/redirect).
    """
    _wait(driver, lambda d: d.execute_script(
        "return document.readyState === 'complete' && document.fonts.status === 'loaded'"), timeout=30)


def _shot(driver, name: str) -> Path:
    """A full-page screenshot (the viewport grown to the page's height)."""
    height = driver.execute_script("return Math.ceil(document.documentElement.scrollHeight)")
    metrics = driver.execute_script("return [window.innerWidth, window.innerHeight]")
    path = SHOTS / f"{name}.png"
    driver.execute_cdp_cmd("Page.captureScreenshot", {})  # warm up the compositor
    data = driver.execute_cdp_cmd("Page.captureScreenshot", {
        "captureBeyondViewport": True, "clip": {"x": 0, "y": 0, "width": metrics[0], "height": min(height, 6000),
                                                "scale": 1}})
    import base64

    path.write_bytes(base64.b64decode(data["data"]))
    return path


def _layout_problems(driver) -> list[str]:
    """Elements sticking out of the viewport sideways, and page-level horizontal scrolling."""
    return driver.execute_script("""
        const width = document.documentElement.clientWidth, out = [];
        if (document.documentElement.scrollWidth > width + 1) out.push('page scrolls sideways: ' +
            document.documentElement.scrollWidth + ' > ' + width);
        for (const el of document.body.querySelectorAll('*')) {
            const r = el.getBoundingClientRect();
            if (!r.width || getComputedStyle(el).position === 'absolute' || el.closest('.sr-only, .skip')) continue;
            let clipped = false;
            for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
                const o = getComputedStyle(p).overflowX;
                if (o === 'auto' || o === 'hidden' || o === 'scroll') { clipped = true; break; }
            }
            if (!clipped && (r.right > width + 1 || r.left < -1))
                out.push(`${el.tagName}.${el.className} [${Math.round(r.left)}, ${Math.round(r.right)}]`);
        }
        return out.slice(0, 10);""")


def _direction(driver) -> tuple[str, str, str]:
    return tuple(driver.execute_script("const html = document.documentElement; "
                                       "return [html.dir, html.lang, getComputedStyle(document.body).direction]"))


def test_browse_search_read_and_follow_related(server, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    browser.get(server + "/")
    _loaded(browser)
    assert _direction(browser) == ("rtl", "ar", "rtl")
    assert browser.execute_script("return document.fonts.check('700 1em \"Marsad Kufi\"')")
    assert not _layout_problems(browser)
    _shot(browser, "home-desktop")

    box = browser.find_element(By.ID, "top-q")
    assert box.get_attribute("placeholder")
    box.send_keys(QUERY, Keys.ENTER)
    _wait(browser, lambda d: "/search" in d.current_url)
    _loaded(browser)
    marks = browser.find_elements(By.CSS_SELECTOR, ".hit mark")
    assert marks, "no highlighted words in the results"
    assert browser.find_element(By.ID, "q").get_attribute("value") == QUERY
    assert not _layout_problems(browser)
    _shot(browser, "search-desktop")

    first = browser.find_element(By.CSS_SELECTOR, ".hits .hit h2 a")
    title = first.text
    first.click()
    _wait(browser, lambda d: "/articles/" in d.current_url)
    _loaded(browser)
    assert browser.find_element(By.TAG_NAME, "h1").text == title
    assert _direction(browser)[0] == "rtl"
    assert browser.execute_script("return getComputedStyle(document.querySelector('.prose')).direction") == "rtl"
    assert browser.execute_script("return document.fonts.check('1em \"Marsad Naskh\"')")
    assert not _layout_problems(browser)
    _shot(browser, "article-desktop")

    article_url = browser.current_url
    related = browser.find_elements(By.CSS_SELECTOR, "[data-related] a.title")
    assert related, "no related articles to follow"
    next_title = related[0].text
    related[0].click()
    _wait(browser, lambda d: d.current_url != article_url)
    _loaded(browser)
    assert "/articles/" in browser.current_url
    assert browser.find_element(By.TAG_NAME, "h1").text == next_title
    assert _direction(browser)[0] == "rtl"
    _shot(browser, "related-desktop")


@pytest.mark.parametrize("path", ["/", f"/search?q={QUERY}", f"/articles/{EXTRA[0].id}", "/sources",
                                  "/sources/%D8%B9%D9%83%D8%A7%D8%B8", "/settings", "/no-such-page"])
def test_nothing_overflows_at_phone_width(server, browser, path):
    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", PHONE)
    try:
        browser.get(server + path)
        _loaded(browser)
        assert _direction(browser)[0] == "rtl"
        assert browser.execute_script("return window.innerWidth") == PHONE["width"]
        problems = _layout_problems(browser)
        assert not problems, problems
        first = path.strip("/").split("/")[0].split("?")[0]
        name = {"/": "home", "/sources": "sources", "/settings": "settings", "/no-such-page": "error"}.get(path) \
            or {"search": "search", "articles": "article", "sources": "outlet"}[first]
        _shot(browser, f"{name}-phone")
    finally:
        browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


def test_dark_mode_and_arabic_indic_digits(server, browser):
    from selenium.webdriver.common.by import By

    browser.get(server + f"/settings?next=/articles/{EXTRA[0].id}")
    _loaded(browser)
    browser.find_element(By.CSS_SELECTOR, "input[name=theme][value=dark]").click()
    browser.find_element(By.CSS_SELECTOR, "input[name=digits][value=arab]").click()
    browser.find_element(By.CSS_SELECTOR, "form.panel button[type=submit]").click()
    # The settings page's own URL holds "/articles/" in its ?next=, so wait on the path itself.
    _wait(browser, lambda d: d.current_url.startswith(server + "/articles/"))
    _loaded(browser)
    background = browser.execute_script("return getComputedStyle(document.body).backgroundColor")
    assert background == "rgb(17, 19, 21)"
    assert "١٢ أغسطس ٢٠١٥" in browser.find_element(By.CSS_SELECTOR, ".byline").text
    _shot(browser, "article-dark")
    browser.get(server + "/")
    _loaded(browser)
    _shot(browser, "home-dark")
    browser.delete_all_cookies()


def test_api_docs_render_offline(server, browser):
    """/docs draws Swagger UI from this server's own files (the test server reaches no other host), within
    the page's Content-Security-Policy: no violation is reported."""
    from selenium.webdriver.common.by import By

    watch = browser.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": (
        "window.__violations = [];"
        "document.addEventListener('securitypolicyviolation',"
        " e => window.__violations.push(e.violatedDirective + ' ' + e.blockedURI));")})
    try:
        browser.get(server + "/docs")
        _wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, ".opblock-summary-path"), timeout=30)
        paths = {e.text.replace("\u200b", "") for e in browser.find_elements(By.CSS_SELECTOR, ".opblock-summary-path")}
        assert "/api/v1/search" in paths
        assert browser.execute_script("return window.__violations") == []
        _shot(browser, "api-docs")
    finally:
        browser.execute_cdp_cmd("Page.removeScriptToEvaluateOnNewDocument", {"identifier": watch["identifier"]})
