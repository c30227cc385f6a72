"""The browser test behind scripts/browser-test (which sets the environment it reads).

Starts an app instance for nrt (the primary region) and one for ord (reads from the replica),
and the local edge in front of them, on free loopback ports. Then headless Chromium, through
the edge, in each region: creates a user, edits it, edits it again while someone else saves it
first (the 409 page, then "save my changes over theirs"), and deletes it, checking the flash
messages and the badge on every page, and that the console shows no error and no
Content-Security-Policy violation. It switches regions with the badge's links and saves
screenshots. Then it runs scripts/check-fly against the edge: it must pass, fail naming the
cause while ord's replica is stopped, and pass again; wait out a cold start in ord (an edge
started with --cold-start) and report its time; fail naming a region with no machine; and fail
naming the region that answered when an edge misroutes. Prints one line per check and
"N passed, M failed"; exits 1 on any failure.
"""

import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

PRIMARY, REPLICA = "nrt", "ord"
START_TIMEOUT = 60  # seconds for a server to answer /healthz
STOP_TIMEOUT = 15  # seconds after SIGTERM before SIGKILL (the app's own bound is 10 s)
PAGE_TIMEOUT = 15  # seconds for a page to load after a click
DESKTOP_SIZE, PHONE_SIZE = (1280, 900), (390, 844)
CSP_WORDS = ("Content Security Policy", "Refused to")  # how Chromium reports a CSP violation
CHROMIUM_FLAGS = ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=%d,%d" % DESKTOP_SIZE)


class Checks:
    """Counts and prints the results, one line each."""

    def __init__(self):
        self.passed = 0
        self.failed = 0

    def check(self, ok, what, detail=""):
        """Records one result; `detail` says what was found instead when it failed."""
        if ok:
            self.passed += 1
            print(f"ok   {what}", flush=True)
        else:
            self.failed += 1
            print(f"FAIL {what}" + (f": {detail}" if detail else ""), flush=True)
        return ok

    def equal(self, what, actual, expected):
        """Checks that `actual` is `expected`."""
        return self.check(actual == expected, what, f"got {actual!r}, expected {expected!r}")


class Servers:
    """The app instances and the edge this test starts; `stop` ends every one of them."""

    def __init__(self, work_dir):
        self.work_dir = work_dir
        self.processes = []  # (name, Popen, log path)
        self.instances = {}  # region: the app instance's URL

    def start(self, name, args, env, health_url):
        """Starts a server with its output in a log file, and waits until it is healthy."""
        log_path = os.path.join(self.work_dir, f"{name}.log")
        with open(log_path, "wb") as log:
            # Its own session: a Ctrl-C reaches only this script, which then stops it in order.
            process = subprocess.Popen(args, env=env, cwd=self.work_dir, stdout=log,
                                       stderr=subprocess.STDOUT, start_new_session=True)
        self.processes.append((name, process, log_path))
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited with status {process.returncode} while starting; see its log below")
            try:
                with urllib.request.urlopen(health_url, timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{name} did not answer {health_url} within {START_TIMEOUT}s")

    def start_cluster(self):
        """Starts nrt, ord and the edge in front of them; returns the edge's URL."""
        ports = free_ports(3)
        secret = secrets.token_hex(24)
        regions = []
        for region, port in zip((PRIMARY, REPLICA), ports):
            # A minimal environment, and a working folder without a .env, so nothing else leaks in.
            env = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/"),
                   "FLY_REGION": region, "PRIMARY_REGION": PRIMARY, "WRITE_MODE": "replay",
                   "HOST": "127.0.0.1", "PORT": str(port), "DATABASE_URL": os.environ["TEST_DATABASE_URL"],
                   "SECRET_KEY_BASE": secret, "LOG_LEVEL": "info", "PUBLIC_DIR": os.path.abspath("Public"),
                   "METRICS_PORT": "off"}  # not under test, and its fixed port would be taken twice
            if region != PRIMARY:
                env["REPLICA_DATABASE_URL"] = os.environ["TEST_REPLICA_DATABASE_URL"]
            self.start(f"app-{region}", [os.environ["APP_BINARY"], "serve"], env, f"http://127.0.0.1:{port}/healthz")
            self.instances[region] = f"http://127.0.0.1:{port}"
        return self.start_edge("edge", self.instances)

    def start_edge(self, name, instances, *options):
        """Starts another edge in front of `instances` (region: URL, the primary first), with
        more Edge `options`; returns its URL. It is up when /healthz answers through it (in the
        primary region: give a cold start only to another)."""
        port = free_ports(1)[0]
        regions = [argument for region, url in instances.items() for argument in ("--region", f"{region}={url}")]
        self.start(name, [os.environ["EDGE_BINARY"], "--port", str(port), *regions, *options],
                   {"PATH": os.environ.get("PATH", "")}, f"http://127.0.0.1:{port}/healthz")
        return f"http://127.0.0.1:{port}"

    def stop(self):
        """SIGTERM to every server, up to STOP_TIMEOUT for them all, then SIGKILL (at once on
        another Ctrl-C); says which it had to kill."""
        for _, process, _ in self.processes:
            if process.poll() is None:
                process.terminate()
        deadline = time.monotonic() + STOP_TIMEOUT
        try:
            for _, process, _ in self.processes:
                try:
                    process.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    pass
        finally:
            for name, process, _ in self.processes:
                if process.poll() is None:
                    process.kill()
                    process.wait()
                    print(f"{name} (pid {process.pid}) had not stopped after SIGTERM; killed it", flush=True)

    def print_logs(self, lines=20):
        """Prints the end of every server's log."""
        for name, _, log_path in self.processes:
            print(f"--- last lines of {name}'s log ---")
            with open(log_path, errors="replace") as log:
                print("".join(log.readlines()[-lines:]), end="")


def free_ports(count):
    """Distinct TCP ports that were free on 127.0.0.1 a moment ago."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def open_browser():
    """Headless Chromium through Debian's chromedriver, keeping the console log."""
    options = webdriver.ChromeOptions()
    options.binary_location = os.environ["CHROMIUM"]
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(os.environ["CHROMEDRIVER"]))
    driver.set_page_load_timeout(PAGE_TIMEOUT)
    return driver


def follow(driver, element):
    """Clicks a link or submit button and waits for the next page to load."""
    page = driver.find_element(By.TAG_NAME, "html")
    element.click()
    WebDriverWait(driver, PAGE_TIMEOUT).until(lambda _: has_gone(page))
    WebDriverWait(driver, PAGE_TIMEOUT, ignored_exceptions=[StaleElementReferenceException]).until(
        lambda d: d.execute_script("return document.readyState") == "complete")


def has_gone(element):
    """Whether an element went away with its page. Asked mid-navigation, chromedriver reports
    the old page's node either as stale or with an inspector error saying the node does not
    belong to the document (or no longer exists); both mean the page was replaced."""
    try:
        element.is_enabled()
        return False
    except StaleElementReferenceException:
        return True
    except WebDriverException as error:
        if any(words in str(error) for words in ("does not belong to the document", "No node with given id")):
            return True
        raise


def fill(form, name, age):
    """Types a name and an age into the user form."""
    for field, value in (("name", name), ("age", str(age))):
        box = form.find_element(By.NAME, field)
        box.clear()
        box.send_keys(value)


def text_of(driver, selector):
    """The text of the first element matching a CSS selector, or None."""
    found = driver.find_elements(By.CSS_SELECTOR, selector)
    return found[0].text.strip() if found else None


def badge(driver):
    """What the region badge says: region, primary region, database (and where a replay came from)."""
    element = driver.find_element(By.ID, "region-badge")
    return {key: element.get_attribute(f"data-{key}") for key in ("region", "primary-region", "db", "replayed-from")}


def post_form(url, fields, region):
    """POSTs a form the way another person's browser in `region` would; returns the status."""
    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args):
            return None

    request = urllib.request.Request(url, data=urllib.parse.urlencode(fields).encode(),
                                     headers={"fly-prefer-region": region})
    try:
        with urllib.request.build_opener(NoRedirect).open(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


class Visit:
    """One region's walk through the pages, with its checks, console log and screenshots."""

    def __init__(self, driver, checks, region, screenshot_dir):
        self.driver = driver
        self.checks = checks
        self.region = region
        self.screenshot_dir = screenshot_dir
        self.console = []  # (page, message) of every console error or CSP report

    def page(self, label, heading=None, flash=None, region=None, db=None, replayed_from=None, status=200,
             screenshot=None):
        """Checks the page just loaded in one line: heading, flash, badge, and its HTTP status
        when not 200 (Chromium logs it). Keeps its other console errors and CSP reports."""
        region = region or self.region
        expected = {"heading": heading, "flash": flash, "region": region, "primary-region": PRIMARY,
                    "db": db or ("primary" if region == PRIMARY else "replica"), "replayed-from": replayed_from}
        found = {"heading": text_of(self.driver, "main h1"), "flash": text_of(self.driver, "p.flash"),
                 **badge(self.driver)}
        if heading is None:
            del expected["heading"]
        wrong = [f"{key} is {found[key]!r}, not {value!r}" for key, value in expected.items() if found[key] != value]
        status_message = (f"{self.driver.current_url} - Failed to load resource: "
                          f"the server responded with a status of {status}")
        status_seen = False
        for entry in self.driver.get_log("browser"):
            message = entry.get("message", "")
            if status != 200 and message.startswith(status_message):
                status_seen = True
            elif entry.get("level") == "SEVERE" or any(word in message for word in CSP_WORDS):
                self.console.append((label, message))
        if status != 200 and not status_seen:
            wrong.append(f"no {status} status in the console")
        said = ([f"heading {heading!r}"] if heading else []) + [f"flash {flash!r}" if flash else "no flash"]
        said.append(f"badge: in {region}, reads {expected['db']}"
                    + (f", replayed from {replayed_from}" if replayed_from else ""))
        if status != 200:
            said.append(f"status {status}")
        self.checks.check(not wrong, f"{self.region} {label}: {', '.join(said)}", "; ".join(wrong))
        if screenshot:
            self.driver.save_screenshot(os.path.join(self.screenshot_dir, f"{self.region}-{screenshot}.png"))

    def phone_layout(self):
        """The current page at phone width: no sideways scrolling; saves a screenshot."""
        self.driver.set_window_size(*PHONE_SIZE)
        widths = self.driver.execute_script("return [document.documentElement.scrollWidth, window.innerWidth]")
        self.checks.check(widths[0] <= widths[1], f"{self.region} list fits a {PHONE_SIZE[0]}px-wide phone screen",
                          f"the page is {widths[0]}px wide in {widths[1]}px")
        self.driver.save_screenshot(os.path.join(self.screenshot_dir, f"{self.region}-list-phone.png"))
        self.driver.set_window_size(*DESKTOP_SIZE)

    def run(self):
        """Creates, edits (twice, the second time in conflict) and deletes one user."""
        driver, checks, region = self.driver, self.checks, self.region
        name = f"Grace Hopper {region}-{secrets.token_hex(2)}"
        self.page("list", heading="Users", screenshot="list-before")

        follow(driver, driver.find_element(By.LINK_TEXT, "New user"))
        self.page("new form", heading="New user", screenshot="new")
        form = driver.find_element(By.CSS_SELECTOR, "form.user-form")
        fill(form, name, 36)
        follow(driver, form.find_element(By.XPATH, ".//button[.='Create user']"))
        checks.check(re.fullmatch(r"/users/\d+", urllib.parse.urlparse(driver.current_url).path),
                     f"{region} create: lands on the new user's page", driver.current_url)
        user_url = driver.current_url
        self.page("show after create", heading=name, flash="User created.", screenshot="show")

        follow(driver, driver.find_element(By.LINK_TEXT, "Edit user"))
        self.page("edit form", heading="Edit user", screenshot="edit")
        name = f"{name} (edited)"
        form = driver.find_element(By.CSS_SELECTOR, "form.user-form")
        fill(form, name, 37)
        follow(driver, form.find_element(By.XPATH, ".//button[.='Save user']"))
        self.page("show after edit", heading=name, flash="User updated.")

        # The conflict: someone else saves the user while this form is open.
        follow(driver, driver.find_element(By.LINK_TEXT, "Edit user"))
        self.page("edit form, again")
        form = driver.find_element(By.CSS_SELECTOR, "form.user-form")
        version = form.find_element(By.NAME, "lock_version").get_attribute("value")
        theirs, mine = f"{name} (theirs)", f"{name} (mine)"
        status = post_form(user_url, {"name": theirs, "age": "38", "lock_version": version}, region)
        checks.equal(f"{region} conflict: someone else saves the user first (303)", status, 303)
        fill(form, mine, 39)
        follow(driver, form.find_element(By.XPATH, ".//button[.='Save user']"))
        # Writes from a replica region are replayed in the primary region, which renders this page.
        self.page("409 page", heading="Someone else changed this user", region=PRIMARY, db="primary",
                  replayed_from=None if region == PRIMARY else region, status=409, screenshot="conflict")
        saved_now = text_of(driver, "section[aria-labelledby=saved-heading]") or ""
        checks.check(theirs in saved_now, f"{region} 409 page: 'Saved now' shows their name", saved_now)
        reapply = driver.find_element(By.ID, "reapply")
        checks.equal(f"{region} 409 page: the re-apply form keeps my name",
                     reapply.find_element(By.NAME, "name").get_attribute("value"), mine)
        follow(driver, reapply.find_element(By.TAG_NAME, "button"))
        self.page("show after re-apply", heading=mine, flash="User updated.")

        follow(driver, driver.find_element(By.LINK_TEXT, "← Back to users"))
        self.page("list with the user", heading="Users", screenshot="list")
        checks.check(driver.find_elements(By.LINK_TEXT, mine), f"{region} list: shows the user")
        self.phone_layout()

        follow(driver, driver.find_element(By.LINK_TEXT, mine))
        self.page("show", heading=mine)
        follow(driver, driver.find_element(By.XPATH, "//main//button[.='Delete']"))
        checks.equal(f"{region} delete: back to the list", urllib.parse.urlparse(driver.current_url).path, "/users")
        self.page("list after delete", heading="Users", flash="User deleted.")
        checks.check(not driver.find_elements(By.LINK_TEXT, mine), f"{region} list: the user is gone")

        checks.check(not self.console, f"{region}: no console errors or CSP violations on any page",
                     "; ".join(f"[{page}] {message}" for page, message in self.console))


def switch_region(driver, checks, region):
    """Clicks the badge's link to browse from `region`; checks it comes back to the same page."""
    path = urllib.parse.urlparse(driver.current_url).path
    follow(driver, driver.find_element(By.CSS_SELECTOR, f"#region-badge nav a[href^='/_edge/region?to={region}&']"))
    found = badge(driver)["region"]
    checks.check(found == region and urllib.parse.urlparse(driver.current_url).path == path,
                 f"badge link switches to {region} and back to {path}", f"now in {found} at {driver.current_url}")


def check_console_check(driver, checks):
    """Makes a CSP violation on purpose: proves the console check would see one."""
    driver.execute_script("const img = document.createElement('img');"
                          "img.src = 'http://127.0.0.2:9/csp-canary.png'; document.body.append(img)")
    deadline, seen = time.monotonic() + 5, False
    while not seen and time.monotonic() < deadline:
        seen = any(CSP_WORDS[0] in entry.get("message", "") for entry in driver.get_log("browser"))
        time.sleep(0.2)
    checks.check(seen, "the console check sees a CSP violation made on purpose")


def first_line(error):
    """The first line of an exception's message (selenium's go on with a stack trace)."""
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0] if lines else ''}"


def browse(driver, checks, edge, screenshot_dir):
    """Walks through the pages in each region, switching with the badge's links."""
    driver.get(edge + "/")
    for region in (PRIMARY, REPLICA):
        if region != PRIMARY:
            switch_region(driver, checks, region)
        try:
            Visit(driver, checks, region, screenshot_dir).run()
        except WebDriverException as error:  # a missing element or a page that did not load: go on
            checks.check(False, f"{region}: the walk through the pages finished",
                         f"at {driver.current_url}: {first_line(error)}")
            driver.save_screenshot(os.path.join(screenshot_dir, f"{region}-failure.png"))
            driver.get(edge + "/users")
    switch_region(driver, checks, PRIMARY)
    check_console_check(driver, checks)


def check_fly(edge, regions=(PRIMARY, REPLICA), timeout=10):
    """Runs scripts/check-fly against the edge; its exit status and output."""
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "check-fly")
    result = subprocess.run([sys.executable, script, edge, "--regions", ",".join(regions), "--timeout", str(timeout)],
                            capture_output=True, text=True, timeout=120)
    return result.returncode, result.stdout + result.stderr


def replica_ctl(action):
    """Stops or starts the test cluster's replica with scripts/test's pg_ctl wrapper."""
    pg_ctl, data = os.environ.get("TEST_PG_CTL"), os.environ.get("TEST_REPLICA_DATA")
    if not pg_ctl or not data:
        raise RuntimeError("TEST_PG_CTL and TEST_REPLICA_DATA are not set (scripts/test sets them)")
    arguments = [pg_ctl, action, "-D", data, "-w", "-t", "60"]
    arguments += ["-m", "fast"] if action == "stop" else ["-l", os.path.join(os.environ.get("TEST_PG_LOG_DIR", data), "replica.log")]
    subprocess.run(arguments, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=90)


def check_deployment_checker(checks, edge):
    """scripts/check-fly passes against the local edge, fails clearly while the replica region's
    replica is stopped, and passes again once it is back."""
    status, output = check_fly(edge)
    checks.check(status == 0, "scripts/check-fly passes against the local edge", output[-1500:])
    try:
        replica_ctl("stop")
    except (RuntimeError, OSError, subprocess.SubprocessError) as error:
        checks.check(False, "scripts/check-fly with the replica stopped", str(error))
        return
    try:
        time.sleep(2)  # the tracker notices within a poll or two
        status, output = check_fly(edge)
        checks.check(status == 1 and f"FAIL  reads in {REPLICA} should come from its replica" in output,
                     f"scripts/check-fly fails, naming the cause, while {REPLICA}'s replica is stopped", output[-1500:])
    finally:
        replica_ctl("start")
    deadline = time.monotonic() + 30
    while True:
        status, output = check_fly(edge)
        if status == 0 or time.monotonic() > deadline:
            break
        time.sleep(1)
    checks.check(status == 0, "scripts/check-fly passes again once the replica is back", output[-1500:])


COLD_START = 3  # seconds the cold edge holds the first request to the replica region
COLD_TRY_TIMEOUT = 2  # check-fly's --timeout against it: the first try gives up, the second gets the answer


def check_checker_finds_regions(checks, servers, edge):
    """scripts/check-fly waits out a cold start in the replica region (through an edge of its
    own in front of the same instances; giving up on its first try, answering on the second) and
    reports its time; names a region with no machine and still checks the others; and names the
    region that answered when it is not the one asked for (an edge that misroutes)."""
    cold = servers.start_edge("edge-cold", servers.instances, "--cold-start", f"{REPLICA}={COLD_START}s")
    started = time.monotonic()
    status, output = check_fly(cold, timeout=COLD_TRY_TIMEOUT)
    elapsed = time.monotonic() - started
    woke = re.search(rf"ok    (cold start in {REPLICA}: answered after ([0-9.]+) s \((\d+) tries\))", output)
    checks.check(status == 0 and woke is not None and float(woke.group(2)) >= COLD_START - 0.1 and woke.group(3) == "2",
                 f"scripts/check-fly waits out a {COLD_START} s cold start in {REPLICA} (a first try that gives up after "
                 f"{COLD_TRY_TIMEOUT} s, a second that answers), reports its time, and passes"
                 + (f" ('{woke.group(1)}'; the whole check took {elapsed:.1f} s)" if woke else ""), output[-1500:])
    checks.check(f"ok    {PRIMARY} was warm (" in output, f"scripts/check-fly reports that {PRIMARY} was warm", output[-1500:])

    status, output = check_fly(edge, regions=(PRIMARY, REPLICA, "xyz"))
    summary = re.search(r"(\d+) passed, (\d+) failed", output)
    checks.check(status == 1 and "FAIL  no running machine in region xyz: HTTP 503 from the proxy" in output
                 and summary is not None and summary.group(2) == "1" and f"\nwrite from {REPLICA}" in output,
                 "scripts/check-fly exits 1 naming the region with no machine (xyz), and still checks nrt and ord",
                 output[-1500:])

    # An edge that sends ord's requests to nrt's instance: what a proxy that falls back would do.
    misrouted = servers.start_edge("edge-misrouted", {PRIMARY: servers.instances[PRIMARY], REPLICA: servers.instances[PRIMARY]})
    status, output = check_fly(misrouted)
    checks.check(status == 1 and f"FAIL  answered from {PRIMARY} instead of {REPLICA}" in output,
                 f"scripts/check-fly exits 1 when {REPLICA}'s answer comes from {PRIMARY}, naming both", output[-1500:])


def run(checks, screenshot_dir, work_dir):
    """Starts the servers and the browser, browses, and stops everything, whatever happens."""
    servers = Servers(work_dir)
    try:
        edge = servers.start_cluster()
        checks.check(True, f"nrt, ord and the edge started (edge at {edge})")
        try:
            driver = open_browser()
        except (WebDriverException, OSError) as error:
            checks.check(False, "headless Chromium starts through chromedriver", first_line(error))
            return
        try:
            browse(driver, checks, edge, screenshot_dir)
        except WebDriverException as error:
            checks.check(False, "the browser kept answering", first_line(error))
        finally:
            try:
                driver.quit()
            except (WebDriverException, OSError):
                pass  # already gone: quit has stopped chromedriver all the same
        check_deployment_checker(checks, edge)
        check_checker_finds_regions(checks, servers, edge)
    except (RuntimeError, OSError) as error:  # OSError: a binary that cannot be run
        checks.check(False, "the servers start", str(error))
    finally:
        servers.stop()
        if checks.failed:
            servers.print_logs()


def main():
    """Runs the test; exits 0 only when every check passed."""
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, lambda number, _: sys.exit(128 + number))
    screenshot_dir = os.environ["SCREENSHOT_DIR"]
    os.makedirs(screenshot_dir, exist_ok=True)
    for region in (PRIMARY, REPLICA):  # from an earlier run that failed
        stale = os.path.join(screenshot_dir, f"{region}-failure.png")
        if os.path.exists(stale):
            os.remove(stale)
    checks = Checks()
    with tempfile.TemporaryDirectory(prefix="browser-test.") as work_dir:
        try:
            run(checks, screenshot_dir, work_dir)
        except KeyboardInterrupt:
            print("Interrupted; the servers and the browser it started are stopped.", flush=True)
            sys.exit(130)
    print(f"Screenshots: {screenshot_dir}")
    print(f"{checks.passed} passed, {checks.failed} failed")
    sys.exit(1 if checks.failed else 0)


if __name__ == "__main__":
    main()
