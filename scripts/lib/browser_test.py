"""The browser test behind scripts/browser-test (which sets the environment it reads).

Starts an app instance for nrt (the primary region) and one for ord (reads from the replica),
and the local edge in front of them, on free loopback ports. Then headless Chromium, through
the edge, in each region: creates a user, edits it, edits it again while someone else saves it
first (the 409 page, then "save my changes over theirs"), and deletes it, checking the flash
messages and the badge on every page, and that the console shows no error and no
Content-Security-Policy violation. It switches regions with the badge's links and saves
screenshots. Then the live pages: an ord window keeps the users list, then a user's page, open
while an nrt window creates, edits and deletes users; each change must show in the ord page
within 2 s without a reload (the check says how long it took, and the delay the page gave),
through the edge and through one started with --rtt 80ms. Then it runs scripts/check-fly
against the edge: it must pass, fail naming the cause while ord's replica is stopped, and pass
again; wait out a cold start in ord (an edge started with --cold-start) and report its time;
fail naming a region with no machine; and fail naming the region that answered when an edge
misroutes. Prints one line per check and "N passed, M failed"; exits 1 on any failure.
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
    click_away(driver, element)()


def click_away(driver, element):
    """Clicks a link or submit button; returns a function that waits for the next page to load
    (so another window can be watched meanwhile)."""
    page = driver.find_element(By.TAG_NAME, "html")
    element.click()

    def arrived():
        WebDriverWait(driver, PAGE_TIMEOUT).until(lambda _: has_gone(page))
        WebDriverWait(driver, PAGE_TIMEOUT, ignored_exceptions=[StaleElementReferenceException]).until(
            lambda d: d.execute_script("return document.readyState") == "complete")
    return arrived


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
        if not self.read_console(label, status) and status != 200:
            wrong.append(f"no {status} status in the console")
        said = ([f"heading {heading!r}"] if heading else []) + [f"flash {flash!r}" if flash else "no flash"]
        said.append(f"badge: in {region}, reads {expected['db']}"
                    + (f", replayed from {replayed_from}" if replayed_from else ""))
        if status != 200:
            said.append(f"status {status}")
        self.checks.check(not wrong, f"{self.region} {label}: {', '.join(said)}", "; ".join(wrong))
        if screenshot:
            self.driver.save_screenshot(os.path.join(self.screenshot_dir, f"{self.region}-{screenshot}.png"))

    def read_console(self, label, status=200):
        """Keeps the console errors and CSP reports logged since the last read, under `label`;
        whether the current page's HTTP `status` (when not 200) was among the messages."""
        status_message = (f"{self.driver.current_url} - Failed to load resource: "
                          f"the server responded with a status of {status}")
        status_seen = False
        for entry in self.driver.get_log("browser"):
            message = entry.get("message", "")
            if status != 200 and message.startswith(status_message):
                status_seen = True
            elif entry.get("level") == "SEVERE" or any(word in message for word in CSP_WORDS):
                self.console.append((label, message))
        return status_seen

    def check_console(self, what=None):
        """One check: no console error and no CSP report on any page this visit saw."""
        self.checks.check(not self.console, what or f"{self.region}: no console errors or CSP violations on any page",
                          "; ".join(f"[{page}] {message}" for page, message in self.console))

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

        self.check_console()


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


LIVE_TIMEOUT = 2  # seconds for a change made in nrt to show in ord's open page
LIVE_WAIT = 10  # seconds a live check keeps looking, to say how late a late change was
LIVE_POLL = 0.05  # seconds between looks at the watched page
LIVE_RTT = "80ms"  # the second edge's simulated round trip between regions

# Marks the page (a reload loses the mark) and notes the time of every change live.js makes to
# the page's live part, by the machine's clock (Date.now() is time.time()): when a change showed,
# not when the test next looked (chromedriver's click waits for the next page, up to 0.3 s).
LIVE_MARK = """
window.__liveMarker = 1;
new MutationObserver(() => { window.__liveChangedAt = Date.now(); }).observe(
  document.querySelector("[data-live-list], [data-live-user]"),
  {subtree: true, childList: true, attributes: true, characterData: true});
"""

# What a live page shows now, read in the page: the badge's live row, the note, the list's rows
# (top first) or the user page, whether the page still has the mark the test set on it, and
# when its live part last changed.
LIVE_SNAPSHOT = """
const shown = (element) => element && !element.hidden ? element : null;
const badge = shown(document.querySelector("[data-live-status]"));
const note = shown(document.querySelector("[data-live-note]"));
const field = (element, name) => element.querySelector(`[data-field=${name}]`);
const user = document.querySelector("[data-live-user]");
return {
  marked: window.__liveMarker === 1,
  changedAt: window.__liveChangedAt || null,
  live: badge && {state: badge.dataset.state, text: badge.querySelector("[data-live-text]").textContent},
  note: note && {text: note.textContent, kind: note.dataset.kind, delayMs: note.dataset.delayMs, userId: note.dataset.userId},
  rows: [...document.querySelectorAll("table.users tbody tr[data-user-id]")].map((row) => ({
    id: row.dataset.userId, name: field(row, "name").textContent, age: field(row, "age").textContent,
    href: field(row, "name").getAttribute("href"), lockVersion: field(row, "lockVersion").value,
    removed: row.classList.contains("live-removed")})),
  user: user && {id: user.dataset.userId, title: document.title, removed: user.classList.contains("live-removed"),
    names: [...user.querySelectorAll("[data-field=name]")].map((element) => element.textContent),
    age: field(user, "age").textContent},
};
"""


class LivePages:
    """The live pages through one edge: an ord window keeps the list (then a user's page) open
    while an nrt window creates, edits and deletes users through the forms; the ord page must
    show each change within LIVE_TIMEOUT, without a reload, and say how long the change took
    to reach ord."""

    def __init__(self, checks, edge, watcher, writer, screenshot_dir, label="live"):
        self.checks = checks
        self.edge = edge
        self.label = label  # the checks' prefix, naming the edge
        self.watching = Visit(watcher, checks, REPLICA, screenshot_dir)
        self.writing = Visit(writer, checks, PRIMARY, screenshot_dir)
        self.screenshot_dir = screenshot_dir
        # The edge's region cookie; back to a page without a stream, as every live page left
        # behind holds one of the edge's connections to its instance until the app next writes to
        # it (see check_live_pages).
        for driver, region in ((watcher, REPLICA), (writer, PRIMARY)):
            driver.get(f"{edge}/_edge/region?to={region}&back=/users/new")

    def run(self):
        """The list through a create, an edit and a delete, then a user's page through an edit
        and a delete."""
        # live.js reloads a list without a table when a user is created, so the list gets one.
        other = self.create(f"Katherine Johnson {secrets.token_hex(2)}", 50)[0]
        self.open("/users", "list", lambda page: any(row["id"] == other for row in page["rows"]))
        user, name = self.created_in_list()
        name = self.edited_in_list(user, name)
        self.deleted_from_list(user)
        self.open(f"/users/{other}", "user page", lambda page: page["user"] is not None)
        self.edited_on_user_page(other)
        self.deleted_on_user_page(other)
        self.watching.check_console(f"{self.label}: no console errors or CSP violations in the {REPLICA} window")
        self.writing.check_console(f"{self.label}: no console errors or CSP violations in the {PRIMARY} window")

    def snapshot(self):
        """What the ord page shows now (LIVE_SNAPSHOT)."""
        return self.watching.driver.execute_script(LIVE_SNAPSHOT)

    def watch(self, started, seen):
        """Looks at the ord page until `seen(snapshot)`, or LIVE_WAIT after `started` (a
        time.time()); the last snapshot, and the seconds from `started` to the page's last
        change (to the look that saw it, on a page not marked), or None when never seen."""
        while True:
            page = self.snapshot()
            now = time.time()
            if seen(page):
                return page, (page["changedAt"] / 1000 if page["changedAt"] else now) - started
            if now - started > LIVE_WAIT:
                return page, None
            time.sleep(LIVE_POLL)

    def open(self, path, what, loaded):
        """Opens `path` in the ord window, waits until `loaded(snapshot)` (a reload live.js makes
        meanwhile is fine) and until the badge says the page is live, then marks the page."""
        driver = self.watching.driver
        driver.get(self.edge + path)
        page, elapsed = self.watch(time.time(), lambda page: loaded(page) and page["live"]
                                   and page["live"]["state"] == "live")
        self.watching.page(f"{self.label} {what}", screenshot=f"{file_name(self.label)}-{file_name(what)}")
        said = page["live"] and page["live"]["text"]
        self.checks.check(elapsed is not None and said == f"from the replica in {REPLICA}",
                          f"{self.label}: {REPLICA} {what} says it is live {said!r}"
                          + (f" (after {elapsed:.2f} s)" if elapsed is not None else ""),
                          f"the badge's live row is {page['live']!r} after {LIVE_WAIT} s")
        driver.execute_script(LIVE_MARK)

    def submit(self, path, button, name=None, age=None):
        """Opens `path` in the nrt window (unless it is there already), fills in the user form when
        given a name, and clicks the button with that text; the time of the click (time.time()),
        and a function that waits for the page that follows (the nrt window's console is read
        then)."""
        driver = self.writing.driver
        if urllib.parse.urlparse(driver.current_url).path != path:
            driver.get(self.edge + path)
            self.writing.read_console(path)
        if name is not None:
            fill(driver.find_element(By.CSS_SELECTOR, "form.user-form"), name, age)
        started = time.time()
        arrived = click_away(driver, driver.find_element(By.XPATH, f"//main//button[.='{button}']"))

        def landed():
            arrived()
            self.writing.read_console(f"after {button} on {path}")
            return urllib.parse.urlparse(driver.current_url).path
        return started, landed

    def create(self, name, age, seen=None):
        """Creates a user from nrt through the form; the new user's id. With `seen`, watches the
        ord page meanwhile (see `watch`) and returns what it saw too."""
        started, landed = self.submit("/users/new", "Create user", name, age)
        watched = self.watch(started, seen) if seen else None
        found = re.fullmatch(r"/users/(\d+)", landed())
        if not found:
            raise RuntimeError(f"creating {name!r} in {PRIMARY} landed on {self.writing.driver.current_url}")
        return found.group(1), watched

    def shown(self, what, page, elapsed, kind, user, wrong, screenshot=None):
        """One check: the ord page showed the change within LIVE_TIMEOUT, is the page the test
        marked, and its note names the change; says after how long, and the delay the page
        gave."""
        note = page["note"] or {}
        delay = note.get("delayMs")
        verb = {"insert": "created", "update": "updated", "delete": "deleted"}[kind]
        expected = f"User {user} {verb} in {PRIMARY}, here in {REPLICA} after {delay} ms"
        if elapsed is None:
            wrong = [f"not shown after {LIVE_WAIT} s"] + wrong
        elif elapsed > LIVE_TIMEOUT:
            wrong = [f"shown only after {elapsed:.2f} s"] + wrong
        if not page["marked"]:
            wrong.append("the page was reloaded")
        if note.get("text") != expected or note.get("kind") != kind or note.get("userId") != user:
            wrong.append(f"the note is {note!r}, not {expected!r}")
        elif not (delay or "").isdigit() or int(delay) >= LIVE_TIMEOUT * 1000:
            wrong.append(f"the note's delay is {delay!r} ms")
        said = f"page says {delay} ms" if delay is not None else "the page gives no delay"
        timing = f" (after {elapsed:.2f} s; {said})" if elapsed is not None else ""
        if not self.checks.check(not wrong, f"{self.label}: {REPLICA} {what} without a reload{timing}", "; ".join(wrong)):
            self.watching.driver.save_screenshot(os.path.join(self.screenshot_dir, f"{file_name(self.label)}-failure.png"))
        elif screenshot:
            self.watching.driver.save_screenshot(
                os.path.join(self.screenshot_dir, f"{REPLICA}-{file_name(self.label)}-{screenshot}.png"))
        self.watching.read_console(what)

    def created_in_list(self):
        """A user created in nrt appears on top of ord's list, its link and fields filled in."""
        name, age = f"Dorothy Vaughan {secrets.token_hex(2)}", 41
        user, (page, elapsed) = self.create(name, age, lambda page: any(row["name"] == name for row in page["rows"]))
        rows = page["rows"]
        wrong = []
        if rows and rows[0]["id"] == user:
            expected = {"id": user, "name": name, "age": str(age), "href": f"/users/{user}", "lockVersion": "1", "removed": False}
            wrong += [f"its {key} is {rows[0][key]!r}, not {value!r}" for key, value in expected.items() if rows[0][key] != value]
        elif elapsed is not None:
            wrong.append(f"it is not the top row (the rows are {[row['id'] for row in rows]})")
        self.shown(f"list shows the user created in {PRIMARY}", page, elapsed, "insert", user, wrong, "list-created")
        return user, name

    def edited_in_list(self, user, name):
        """A name and an age changed in nrt change in the user's row in ord's list, and its
        delete button then names the new version."""
        name, age = f"{name} (edited)", 42
        started, landed = self.submit(f"/users/{user}/edit", "Save user", name, age)
        row = lambda page: next((row for row in page["rows"] if row["id"] == user), {})
        page, elapsed = self.watch(started, lambda page: row(page).get("name") == name)
        landed()
        wrong = [] if elapsed is None else [f"its {key} is {row(page).get(key)!r}, not {value!r}"
                                            for key, value in (("age", str(age)), ("lockVersion", "2"))
                                            if row(page).get(key) != value]
        self.shown(f"list shows the name changed in {PRIMARY}", page, elapsed, "update", user, wrong)
        return name

    def deleted_from_list(self, user):
        """A user deleted in nrt goes from ord's list."""
        started, landed = self.submit(f"/users/{user}", "Delete")
        page, elapsed = self.watch(started, lambda page: all(row["id"] != user for row in page["rows"]))
        landed()
        self.shown(f"list drops the user deleted in {PRIMARY}", page, elapsed, "delete", user, [])

    def edited_on_user_page(self, user):
        """A name changed in nrt changes in place on ord's page of that user: heading, details
        and the window's title."""
        name, age = f"Mary Jackson {secrets.token_hex(2)}", 51
        started, landed = self.submit(f"/users/{user}/edit", "Save user", name, age)
        page, elapsed = self.watch(started, lambda page: page["user"]["names"] == [name, name])
        landed()
        shows = page["user"]
        wrong = [] if elapsed is None else [f"its {key} is {shows[key]!r}, not {value!r}"
                                            for key, value in (("age", str(age)), ("title", f"{name} · Users"))
                                            if shows[key] != value]
        self.shown(f"user page shows the name changed in {PRIMARY}", page, elapsed, "update", user, wrong, "user-page-updated")

    def deleted_on_user_page(self, user):
        """A user deleted in nrt is marked deleted on ord's page of that user."""
        started, landed = self.submit(f"/users/{user}", "Delete")
        page, elapsed = self.watch(started, lambda page: page["user"]["removed"])
        landed()
        self.shown(f"user page marks the user deleted in {PRIMARY}", page, elapsed, "delete", user, [])


def file_name(label):
    """A label as part of a screenshot's file name: `live (edge --rtt 80ms)` is `live-edge-rtt-80ms`."""
    return re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-")


def check_live_pages(checks, servers, edge, screenshot_dir):
    """The live pages through the edge, then through one with a simulated round trip between
    regions, with an ord window and an nrt window of their own (two browsers, so neither is a
    background tab); both browsers are closed whatever happens.

    The nrt window opens no live page it does not need: the local edge's HTTP client holds at
    most 8 connections to an instance, and a stream whose page was left keeps one until the app
    next writes to it (a change, or the 15 s heartbeat); at 8, the edge's next request to that
    instance waits for one (10 s at most, then 502)."""
    drivers = []
    try:
        try:
            for _ in range(2):
                drivers.append(open_browser())
        except (WebDriverException, OSError) as error:
            checks.check(False, "two more headless Chromiums start for the live pages", first_line(error))
            return
        watcher, writer = drivers
        for label, start in (("live", lambda: edge),
                             (f"live (edge --rtt {LIVE_RTT})",
                              lambda: servers.start_edge("edge-rtt", servers.instances, "--rtt", LIVE_RTT))):
            try:
                through = start()
            except (RuntimeError, OSError) as error:  # OSError: a binary that cannot be run
                checks.check(False, f"{label}: the edge starts", str(error))
                continue
            try:
                LivePages(checks, through, watcher, writer, screenshot_dir, label).run()
            except (WebDriverException, RuntimeError) as error:
                checks.check(False, f"{label}: the live pages' walk finished",
                             f"at {watcher.current_url} ({REPLICA}) and {writer.current_url} ({PRIMARY}): {first_line(error)}")
                watcher.save_screenshot(os.path.join(screenshot_dir, f"{file_name(label)}-failure.png"))
    finally:
        for driver in drivers:
            try:
                driver.quit()
            except (WebDriverException, OSError):
                pass  # already gone: quit has stopped chromedriver all the same


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
        check_live_pages(checks, servers, edge, screenshot_dir)
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
    for name in os.listdir(screenshot_dir):  # from an earlier run that failed
        if name.endswith("-failure.png"):
            os.remove(os.path.join(screenshot_dir, name))
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
