"""Shared harness of the browser tests (tests/browser/test_*.py).

Each test is a script run by CTest: it starts real `carnet` processes
($CARNET_BIN) on 127.0.0.1 with ephemeral ports, drives Debian's headless
Chromium through chromedriver (python3-selenium), and checks a flow end to
end through the page. Every wait is bounded (WebDriverWait or a deadline);
nothing sleeps to synchronise. Whatever happens, the last screen is saved
as a PNG under $CARNET_SCREENSHOTS, the browser is closed, and every process
started is stopped (SIGTERM, then a clean exit is required: under the
sanitizer build that also checks the server leaked nothing).

Environment (set by CMakeLists.txt):
  CARNET_BIN          the carnet executable under test
  CARNET_BROWSER_TMP  a scratch directory under the build tree
  CARNET_SCREENSHOTS  where the screenshots go
  CARNET_SLOW         deadline multiplier (5 under sanitizers), default 1
"""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback

from selenium import webdriver
from selenium.common.exceptions import (ElementClickInterceptedException, NoSuchElementException,
                                        StaleElementReferenceException, TimeoutException, WebDriverException)
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

BIN = os.environ.get("CARNET_BIN", "")
SLOW = float(os.environ.get("CARNET_SLOW", "1"))
SOURCE_DIR = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# Chromium flags: headless, no sandbox (containers, root), and none of the
# background connections (updates, sync, QUIC probes) this machine's closed
# network would refuse or stall on.
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage", "--disable-extensions", "--disable-default-apps",
    "--no-default-browser-check", "--metrics-recording-only", "--password-store=basic",
]


def T(seconds):
    """A deadline, scaled for slow builds."""
    return seconds * SLOW


class Failure(AssertionError):
    pass


def check(cond, message):
    if not cond:
        raise Failure(message)


class Proc:
    """A background `carnet` process: stdout read by a thread (so the pipe
    never fills), stderr to a log file."""

    def __init__(self, args, log_path, env=None):
        self.args = args
        self.log_path = log_path
        self.lines = []
        self.cond = threading.Condition()
        self.log = open(log_path, "wb")
        self.p = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                  stderr=self.log, env=env, start_new_session=True)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for raw in self.p.stdout:
            with self.cond:
                self.lines.append(raw.decode("utf-8", "replace").rstrip("\n"))
                self.cond.notify_all()
        with self.cond:
            self.cond.notify_all()

    def wait_line(self, pattern, timeout):
        """The first stdout line matching the regex (its match), within the
        deadline."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for line in self.lines:
                    m = rx.search(line)
                    if m:
                        return m
                left = deadline - time.monotonic()
                if left <= 0 or self.p.poll() is not None and not self.reader.is_alive():
                    raise Failure("%s: no line matching %r within %.0fs (exit %s); stdout: %r; log: %s" %
                                  (" ".join(self.args[:4]), pattern, timeout, self.p.poll(), self.lines,
                                   self.stderr_tail()))
                self.cond.wait(min(left, 0.2))

    def stderr_tail(self, n=2000):
        try:
            with open(self.log_path, "rb") as f:
                return f.read()[-n:].decode("utf-8", "replace")
        except OSError:
            return ""

    def stop(self):
        """SIGTERM, then a clean exit within the deadline; returns a problem
        or None. Killed (SIGKILL) when it does not exit."""
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(timeout=T(10))
            except subprocess.TimeoutExpired:
                os.killpg(self.p.pid, signal.SIGKILL)
                self.p.wait()
                return "%s did not exit within %.0fs of SIGTERM" % (self.args[:4], T(10))
        self.reader.join(timeout=5)
        self.log.close()
        if self.p.returncode != 0:
            return "%s exited %d; its log ends with:\n%s" % (" ".join(self.args[:5]), self.p.returncode,
                                                             self.stderr_tail())
        return None


class Session:
    """One test: its scratch directory, processes, browser and screenshot."""

    def __init__(self, name):
        check(BIN and os.access(BIN, os.X_OK), "CARNET_BIN is not set to the carnet executable")
        self.name = name
        base = os.environ.get("CARNET_BROWSER_TMP") or tempfile.mkdtemp(prefix="carnet-browser-")
        self.root = os.path.join(base, name)
        shutil.rmtree(self.root, ignore_errors=True)
        os.makedirs(self.root)
        self.shots = os.environ.get("CARNET_SCREENSHOTS") or os.path.join(base, "screenshots")
        os.makedirs(self.shots, exist_ok=True)
        self.procs = []
        self.driver = None
        self.t0 = time.monotonic()
        self.marks = []

    # --- carnet ------------------------------------------------------------
    def env(self):
        e = dict(os.environ)
        e.pop("CARNET_DIR", None)
        e.pop("CARNET_PASSPHRASE", None)
        e["TZ"] = e.get("TZ", "Europe/Paris")
        return e

    def cli(self, dir, *args, json_out=False, ok=True):
        """Runs `carnet --dir DIR ARGS...`; returns stdout (parsed with
        --json), or (code, stdout, stderr) when ok=False."""
        argv = [BIN, "--dir", dir] + [str(a) for a in args] + (["--json"] if json_out else [])
        r = subprocess.run(argv, capture_output=True, env=self.env(), timeout=T(60))
        out, err = r.stdout.decode(), r.stderr.decode()
        if not ok:
            return r.returncode, out, err
        check(r.returncode == 0, "%s failed (%d): %s" % (" ".join(argv[3:]), r.returncode, err.strip()))
        return json.loads(out) if json_out else out

    def replica(self, name, *init_args):
        """A new replica (no passphrase: a key file in its directory)."""
        d = os.path.join(self.root, name)
        self.cli(d, "init", "--no-passphrase", *init_args)
        return d

    def add_customer(self, dir, *args):
        """`carnet customer add ARGS` -> the customer's JSON."""
        return self.cli(dir, "customer", "add", *args, json_out=True)

    def web(self, dir):
        """`carnet web --http 127.0.0.1:0`: the console's URL (with token)."""
        p = self._start([BIN, "--dir", dir, "web", "--http", "127.0.0.1:0"], "web")
        url = p.wait_line(r"^console: (http://127\.0\.0\.1:\d+/#token=[0-9a-f]{64})$", T(15)).group(1)
        self._same_as_file(dir, url)
        return url

    def serve(self, dir, *extra):
        """`carnet serve --listen 127.0.0.1:0 --http 127.0.0.1:0`: (the sync
        address, the console's URL)."""
        p = self._start([BIN, "--dir", dir, "serve", "--listen", "127.0.0.1:0", "--http", "127.0.0.1:0",
                         "--verbose"] + list(extra), "serve")
        addr = p.wait_line(r"listening on (127\.0\.0\.1:\d+)", T(15)).group(1)
        url = p.wait_line(r"^console: (http://127\.0\.0\.1:\d+/#token=[0-9a-f]{64})$", T(15)).group(1)
        self._same_as_file(dir, url)
        return addr, url

    def node(self, dir):
        """A replica that syncs with peers and serves the console, in one
        process (`carnet serve --http`): (the sync address, the URL)."""
        return self.serve(dir)

    def _same_as_file(self, dir, url):
        with open(os.path.join(dir, "web.url")) as f:
            check(f.read().strip() == url, "DIR/web.url does not hold the printed URL")

    def _start(self, argv, what):
        log = os.path.join(self.root, "%s-%d.log" % (what, len(self.procs)))
        p = Proc(argv, log, env=self.env())
        self.procs.append(p)
        return p

    def trust_pair(self, member, newcomer):
        """newcomer trusts member and adopts its team; member trusts
        newcomer (as tests/support/cliproc.c does)."""
        m = self.cli(member, "id", json_out=True)
        n = self.cli(newcomer, "id", json_out=True)
        self.cli(newcomer, "peer", "trust", m["key"], "--team", m["team"])
        self.cli(member, "peer", "trust", n["key"])

    # --- browser -------------------------------------------------------------
    def browser(self, width=1280, height=900, phone=False):
        opts = webdriver.ChromeOptions()
        opts.binary_location = "/usr/bin/chromium"
        for f in CHROMIUM_FLAGS:
            opts.add_argument(f)
        opts.add_argument("--window-size=%d,%d" % (width, height))
        opts.add_argument("--user-data-dir=" + os.path.join(self.root, "chromium-profile"))
        opts.add_argument("--lang=fr-FR")
        opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        self.downloads = os.path.join(self.root, "downloads")
        os.makedirs(self.downloads, exist_ok=True)
        opts.add_experimental_option("prefs", {"download.default_directory": self.downloads,
                                               "download.prompt_for_download": False})
        # The browser gets the carnet processes' environment, TZ included: the
        # page's "today" and the replica's must be the same day, also in the
        # hour where UTC and Europe/Paris are on different dates.
        service = Service("/usr/bin/chromedriver", log_path=os.path.join(self.root, "chromedriver.log"),
                          env=self.env())
        self.driver = webdriver.Chrome(service=service, options=opts)
        # Headless Chromium saves downloads only when told where.
        self.driver.execute_cdp_cmd("Page.setDownloadBehavior", {"behavior": "allow", "downloadPath": self.downloads})
        if phone:
            # A phone's screen, emulated by Chromium itself (touch, the
            # viewport meta tag, a device pixel ratio), not just a narrow window.
            self.driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
                "width": width, "height": height, "deviceScaleFactor": 2, "mobile": True})
            self.driver.execute_cdp_cmd("Emulation.setTouchEmulationEnabled", {"enabled": True})
        self.driver.set_page_load_timeout(T(30))
        self.driver.set_script_timeout(T(30))
        return self.driver

    def open(self, url, route=None):
        """Opens the printed console URL (the token moves to sessionStorage
        and leaves the address bar), then goes to `route` (#/...)."""
        self.driver.get(url)
        self.wait(lambda d: "token=" not in d.current_url, message="the token leaves the address bar")
        if route:
            self.driver.execute_script("location.hash = arguments[0]", route)

    def wait(self, cond, timeout=10, message=""):
        """Waits (bounded) until cond(driver) is truthy; returns its value."""
        # The page re-renders under the test (live events, a new answer): an
        # element found a moment ago may be gone; the condition is retried.
        try:
            return WebDriverWait(self.driver, T(timeout), poll_frequency=0.05,
                                 ignored_exceptions=(StaleElementReferenceException, NoSuchElementException)
                                 ).until(cond, message)
        except TimeoutException:
            raise Failure("timed out after %.0fs: %s" % (T(timeout), message)) from None

    def find(self, css):
        return self.driver.find_element(By.CSS_SELECTOR, css)

    def finds(self, css):
        return self.driver.find_elements(By.CSS_SELECTOR, css)

    def visible(self, css, timeout=10):
        """Waits until an element matching css is displayed; returns it."""
        def cond(d):
            for e in d.find_elements(By.CSS_SELECTOR, css):
                try:
                    if e.is_displayed():
                        return e
                except WebDriverException:
                    pass
            return False
        return self.wait(cond, timeout, "%s visible" % css)

    def text_of(self, css, pattern, timeout=10):
        """Waits until the element's text matches the regex; returns the text."""
        rx = re.compile(pattern)

        def cond(d):
            try:
                t = d.find_element(By.CSS_SELECTOR, css).text
            except WebDriverException:
                return False
            return t if rx.search(t) else False
        try:
            return WebDriverWait(self.driver, T(timeout), poll_frequency=0.05).until(cond)
        except TimeoutException:
            try:
                now = self.driver.find_element(By.CSS_SELECTOR, css).text
            except WebDriverException:
                now = "(no element)"
            raise Failure("timed out after %.0fs: text of %s =~ /%s/; it is %r" % (T(timeout), css, pattern, now)) from None

    # Reads in one script each: the page re-renders under the test (each
    # write comes back as a live event and the view reads itself again), so
    # an element found in one call may be gone by the next.
    def text(self, css):
        """The element's visible text, or None when there is none."""
        return self.driver.execute_script(
            "const e = document.querySelector(arguments[0]); return e ? e.innerText : null", css)

    def attr(self, css, name):
        return self.driver.execute_script(
            "const e = document.querySelector(arguments[0]); return e ? e.getAttribute(arguments[1]) : null", css, name)

    def shown(self, css):
        """Is the element there and rendered (not display:none, not hidden)?"""
        return self.driver.execute_script(
            "const e = document.querySelector(arguments[0]); return !!e && e.getClientRects().length > 0", css)

    def enabled(self, css):
        return self.driver.execute_script(
            "const e = document.querySelector(arguments[0]); return !!e && !e.disabled", css)

    def rows(self, css="#results tbody tr"):
        """The texts of a list's rows (in one round trip to the browser)."""
        return self.driver.execute_script(
            "return [...document.querySelectorAll(arguments[0])].map((r) => r.innerText)", css)

    def click(self, css, timeout=10):
        """Waits for a displayed, enabled element, scrolls it to the middle
        of the window (clear of the sticky header) and clicks it."""
        def cond(d):
            e = next((x for x in d.find_elements(By.CSS_SELECTOR, css) if x.is_displayed() and x.is_enabled()), None)
            if e is None:
                return False
            try:
                d.execute_script("arguments[0].scrollIntoView({block: 'center'})", e)
                e.click()
            except (StaleElementReferenceException, ElementClickInterceptedException):
                return False  # re-rendered or covered (the toast) meanwhile: find it again
            return e
        return self.wait(cond, timeout, "%s clicked" % css)

    def set_input(self, css, text):
        e = self.find(css)
        e.clear()
        e.send_keys(text)
        return e

    def mark(self, what):
        """Notes a step and its time since the start (printed at the end)."""
        self.marks.append((time.monotonic() - self.t0, what))
        print("# %6.2fs %s" % (self.marks[-1][0], what), flush=True)

    def screenshot(self, suffix=""):
        path = os.path.join(self.shots, "%s%s.png" % (self.name, suffix))
        self.driver.save_screenshot(path)
        return path

    def console_errors(self):
        """Severe messages of the page's console: script errors and
        Content-Security-Policy violations. A failed request (the 401 of a
        wrong token, a 4xx the test provokes) is logged by Chromium as
        "Failed to load resource" and is not an error of the page."""
        errs = []
        for entry in self.driver.get_log("browser"):
            if entry.get("level") != "SEVERE":
                continue
            msg = entry.get("message", "")
            if "Failed to load resource" in msg or "favicon" in msg:
                continue
            errs.append(msg)
        return errs

    def close(self):
        problems = []
        if self.driver is not None:
            try:
                print("# screenshot: %s" % self.screenshot(), flush=True)
            except WebDriverException as e:
                problems.append("no screenshot: %s" % e)
            try:
                errs = self.console_errors()
                if errs:
                    problems.append("errors in the page's console:\n  " + "\n  ".join(errs))
            except WebDriverException:
                pass
            try:
                self.driver.quit()
            except WebDriverException:
                pass
        for p in reversed(self.procs):
            why = p.stop()
            if why:
                problems.append(why)
        return problems


def _overdue(signum, frame):
    raise Failure("the test ran past its own deadline")


def run(name, flow):
    """Runs flow(session); exits 0 when it passed and everything stopped
    cleanly, 1 otherwise."""
    s = Session(name)
    ok = False
    # Its own deadline, before CTest's (300 s), so that the browser and the
    # carnet processes are still stopped by the code below; and SIGTERM
    # (ctest interrupted) takes the same way out.
    signal.signal(signal.SIGALRM, _overdue)
    signal.signal(signal.SIGTERM, _overdue)
    signal.alarm(int(min(120 * SLOW, 240)))
    try:
        flow(s)
        ok = True
    except Failure as e:
        print("FAIL %s: %s" % (name, e), file=sys.stderr)
    except Exception:
        print("FAIL %s: unexpected error" % name, file=sys.stderr)
        traceback.print_exc()
    finally:
        signal.alarm(0)
        problems = s.close()
    for p in problems:
        print("FAIL %s: %s" % (name, p), file=sys.stderr)
    took = time.monotonic() - s.t0
    if ok and not problems:
        print("PASS %s in %.1fs" % (name, took))
        sys.exit(0)
    print("(%s ran %.1fs; its files are in %s)" % (name, took, s.root), file=sys.stderr)
    sys.exit(1)
