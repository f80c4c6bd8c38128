"""Browser tests of the web console: a real node, Debian's chromium driven by Selenium.

Fixtures:
- `ui_node` (module): a real node (NodeProcess on loopback) with `base` (http://127.0.0.1:<port>),
  `username`/`password` (its Basic auth) and `rest(method, path, body=None)` (the API with the
  node's Basic auth: `data`, or AssertionError on an error);
- `browser`: headless chromium, 1280x900, that can reach nothing but 127.0.0.1 (a dead proxy
  for everything else, and no DNS); one browser serves the package, reset for each test as if
  new (no cookies, storage or cache; a blank page);
- `signed_in(browser, ui_node, key=None, secret=None)`: signs in through the form (the node's
  secrets, or an API key and secret) and returns the browser;
- `wait_css(browser, selector, timeout=10)`, `wait_text(browser, selector, text, timeout=10)`:
  wait with a deadline, failing with what the page shows;
- `screenshot(browser, name)`: docs/screenshots/<name>.png at 1280x900;
- `receiver`: a real HTTP receiver (tests/integration/receiver.py) on port 0.
The helpers are plain functions too (`from tests.ui.conftest import wait_css`).

Without chromium, chromedriver or selenium the tests skip, saying what to install
(`.ci/run` installs them).
"""

from __future__ import annotations

import json
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import pytest

from tests.integration.nodeproc import NodeProcess
from tests.integration.receiver import Receiver

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "docs" / "screenshots"
WINDOW = (1280, 900)
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
INSTALL_HINT = "apt-get install chromium chromium-driver; pip install selenium (the test extra)"
# Everything but 127.0.0.1 goes to a proxy nobody listens on, and no host name resolves: a
# request to any other origin fails instead of reaching the network.
ISOLATION_FLAGS = ("--proxy-server=127.0.0.1:9", "--proxy-bypass-list=<-loopback>;127.0.0.1",
                   "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1")
QUIET_FLAGS = ("--no-first-run", "--no-default-browser-check", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--disable-default-apps",
               "--disable-extensions", "--metrics-recording-only", "--password-store=basic",
               "--disable-features=Translate,OptimizationHints,MediaRouter,"
               "PasswordLeakDetection,AutofillServerCommunication")


@dataclass
class UiNode:
    node: NodeProcess
    username: str
    password: str

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.node.port}"

    def url(self, path: str) -> str:
        return self.base + path

    def rest(self, method: str, path: str, body: Any = None) -> Any:
        """The API (/api/v1 + path) with the node's Basic auth: the answer's data."""
        return self.node.api(method, path, body)


@pytest.fixture(scope="module")
def ui_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UiNode]:
    workdir = tmp_path_factory.mktemp("ui-node")
    password = secrets.token_urlsafe(18)
    node_secrets = {"SecretKey": secrets.token_urlsafe(32), "AuthUsername": "console-admin",
                    "AuthPassword": password}
    node = NodeProcess(workdir, secrets=node_secrets)
    try:
        node.start()
        node.wait_leader(timeout=30)
        yield UiNode(node, node_secrets["AuthUsername"], password)
    finally:
        node.kill_all()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as rx:
        yield rx


def _webdriver() -> Any:
    if CHROMIUM is None or CHROMEDRIVER is None:
        pytest.skip(f"chromium or chromedriver is not installed ({INSTALL_HINT})")
    return pytest.importorskip("selenium.webdriver", reason=f"selenium missing ({INSTALL_HINT})")


class Chromium:
    """One headless chromium for the whole package (a start and a quit cost about two
    seconds), handed to each test as a new one would be: no cookies, no storage for the origin
    the last test left, an empty cache, one tab on a blank page, the console log read. A
    browser that cannot be reset is quit, by pid, and started again."""

    def __init__(self, root: Path):
        self.root = root
        self.driver: Any = None
        self._processes: list[psutil.Process] = []
        self._starts = 0

    def fresh(self) -> Any:
        if self.driver is not None and not self._reset():
            self.quit()
        if self.driver is None:
            self._start()
        return self.driver

    def _start(self) -> None:
        webdriver = _webdriver()
        from selenium.webdriver.chrome.service import Service

        self._starts += 1
        folder = self.root / f"chromium-{self._starts}"
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for flag in ("--headless=new", f"--window-size={WINDOW[0]},{WINDOW[1]}", "--no-sandbox",
                     "--disable-dev-shm-usage", "--disable-gpu",
                     f"--user-data-dir={folder / 'profile'}", *ISOLATION_FLAGS, *QUIET_FLAGS):
            options.add_argument(flag)
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        service = Service(executable_path=CHROMEDRIVER,
                          log_output=str(self.root / f"chromedriver-{self._starts}.log"))
        self.driver = webdriver.Chrome(service=service, options=options)
        self._processes = _process_tree(service.process.pid)
        self.driver.set_window_size(*WINDOW)
        _fix_viewport(self.driver)
        self.driver.set_page_load_timeout(30)

    def _reset(self) -> bool:
        driver = self.driver
        try:
            _dismiss_alert(driver)
            for handle in driver.window_handles[1:]:
                driver.switch_to.window(handle)
                driver.close()
            driver.switch_to.window(driver.window_handles[0])
            origin = driver.execute_script("return location.origin")
            if isinstance(origin, str) and origin.startswith("http"):
                driver.execute_cdp_cmd("Storage.clearDataForOrigin",
                                       {"origin": origin, "storageTypes": "all"})
            driver.execute_cdp_cmd("Network.clearBrowserCookies", {})
            driver.execute_cdp_cmd("Network.clearBrowserCache", {})
            driver.get("about:blank")
            driver.set_window_size(*WINDOW)
            _fix_viewport(driver)
            driver.get_log("browser")  # what the last test's pages logged is not this test's
            return True
        except Exception:  # a crashed or wedged browser: start another
            return False

    def quit(self) -> None:
        try:
            if self.driver is not None:
                self.driver.quit()
        except Exception:
            pass
        finally:
            self.driver = None
            _kill(self._processes)
            self._processes = []


def _dismiss_alert(driver: Any) -> None:
    from selenium.common.exceptions import NoAlertPresentException

    try:
        driver.switch_to.alert.dismiss()
    except NoAlertPresentException:
        pass


@pytest.fixture(scope="package")
def chromium(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chromium]:
    shared = Chromium(tmp_path_factory.mktemp("chromium"))
    try:
        yield shared
    finally:
        shared.quit()


@pytest.fixture
def browser(chromium: Chromium) -> Any:
    return chromium.fresh()


def _fix_viewport(driver: Any) -> None:
    """The page's viewport itself is 1280x900 (the window's size includes the browser's own
    bars), so layouts and screenshots are the same on every machine."""
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
        "width": WINDOW[0], "height": WINDOW[1], "deviceScaleFactor": 1, "mobile": False})


def _process_tree(pid: int) -> list[psutil.Process]:
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.Error:
        return []


def _kill(processes: list[psutil.Process]) -> None:
    """Whatever quit() left of chromedriver and the browser it started, by pid."""
    for process in processes:
        try:
            process.kill()
        except psutil.Error:
            pass


# -- helpers (also fixtures, below) ------------------------------------------------------------


def page_state(browser: Any) -> str:
    """What a failing wait reports: where the browser is and what it shows."""
    try:
        errors = browser.execute_script(
            "var e = document.getElementById('errors'); return e ? e.textContent : '';")
        text = browser.execute_script("return document.body ? document.body.innerText : '';")
        return f"at {browser.current_url}; #errors: {errors!r}; page: {text[:1500]!r}"
    except Exception as exc:  # noqa: BLE001 - a report of a failure must not fail itself
        return f"(page state unavailable: {exc})"


def wait_css(browser: Any, selector: str, timeout: float = 10) -> Any:
    """The first element matching `selector`, once there is one."""
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        return WebDriverWait(browser, timeout).until(
            expected_conditions.presence_of_element_located((By.CSS_SELECTOR, selector)))
    except TimeoutException:
        raise AssertionError(f"no {selector!r} within {timeout} s {page_state(browser)}") from None


def wait_text(browser: Any, selector: str, text: str, timeout: float = 10) -> Any:
    """The first element matching `selector` once its text contains `text`."""
    from selenium.common.exceptions import TimeoutException, WebDriverException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    # A page that reloads while its element is read (an action's reload) fails that one read
    # with a WebDriverException; the wait tries again until its deadline.
    try:
        WebDriverWait(browser, timeout, ignored_exceptions=(WebDriverException,)).until(
            expected_conditions.text_to_be_present_in_element((By.CSS_SELECTOR, selector), text))
    except TimeoutException:
        raise AssertionError(f"{selector!r} did not show {text!r} within {timeout} s "
                             f"{page_state(browser)}") from None
    return browser.find_element(By.CSS_SELECTOR, selector)


def is_stale(element: Any) -> bool:
    """True once `element` is gone from the page (it reloaded or moved on)."""
    from selenium.common.exceptions import StaleElementReferenceException

    try:
        element.tag_name  # noqa: B018 - touching it is the check
    except StaleElementReferenceException:
        return True
    return False


def sign_in(browser: Any, ui_node: UiNode, key: str | None = None,
            secret: str | None = None, next_path: str = "/ui/") -> Any:
    """Sign in through the form: the node's secrets, or the API key `key` and `secret`."""
    from selenium.webdriver.common.by import By

    browser.get(ui_node.url(f"/ui/signin?next={next_path}"))
    wait_css(browser, "#signin-form")
    if key is None:
        browser.find_element(By.ID, "method-node").click()
        browser.find_element(By.ID, "username").send_keys(ui_node.username)
        browser.find_element(By.ID, "password").send_keys(ui_node.password)
    else:
        browser.find_element(By.ID, "method-key").click()
        browser.find_element(By.ID, "api_key").send_keys(key)
        browser.find_element(By.ID, "api_secret").send_keys(secret or "")
    browser.find_element(By.ID, "signin-submit").click()
    wait_css(browser, "#sign-out")
    return browser


def screenshot(browser: Any, name: str) -> Path:
    """docs/screenshots/<name>.png of the whole window at 1280x900."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    _fix_viewport(browser)
    path = SCREENSHOTS / f"{name}.png"
    # Written beside it and moved in, so a run stopped half-way leaves no broken picture.
    with tempfile.NamedTemporaryFile(dir=SCREENSHOTS, suffix=".png", delete=False) as tmp:
        tmp.write(browser.get_screenshot_as_png())
    Path(tmp.name).replace(path)
    return path


def browser_console(browser: Any) -> list[dict[str, Any]]:
    """The browser's console messages since the last call (CSP violations show up here)."""
    return list(browser.get_log("browser"))


def loaded_resources(browser: Any) -> list[str]:
    """Every URL this page loaded (the Performance API), the page itself included."""
    return list(browser.execute_script(
        "return [location.href].concat(performance.getEntriesByType('resource')"
        ".map(function (e) { return e.name; }));"))


def json_block(browser: Any, element_id: str) -> Any:
    """A page's `<script type="application/json" id=...>` data."""
    from selenium.webdriver.common.by import By

    return json.loads(browser.find_element(By.ID, element_id).get_attribute("textContent"))


@pytest.fixture(name="signed_in")
def _signed_in() -> Any:
    return sign_in


@pytest.fixture(name="wait_css")
def _wait_css() -> Any:
    return wait_css


@pytest.fixture(name="wait_text")
def _wait_text() -> Any:
    return wait_text


@pytest.fixture(name="screenshot")
def _screenshot() -> Any:
    return screenshot
