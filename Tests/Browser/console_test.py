"""The console in a real browser: headless Chromium driven by Selenium against two live gateways.

Run by scripts/browser-test, which starts PostgreSQL, the two gateway instances (A and B, one
database) and gives their URLs and the operator token in the environment. Each test is a function
named test_…; the file ends with one line "N passed, N failed". A screenshot of every page is saved
under $MG_SCREENSHOTS.
"""
import json
import os
import sys
import threading
import time
import traceback
import urllib.error
import urllib.request
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from selenium import webdriver
from selenium.common.exceptions import NoAlertPresentException, StaleElementReferenceException, TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select, WebDriverWait

A = os.environ["MG_URL_A"]
B = os.environ["MG_URL_B"]
OPERATOR = os.environ["MG_OPERATOR_TOKEN"]
SHOTS = os.environ["MG_SCREENSHOTS"]
DOWNLOADS = os.environ["MG_DOWNLOADS"]
XSS_IMG = "<img src=x onerror=alert(1)>"
XSS_SCRIPT = "</script><script>alert(2)</script>"


# ---------- the API, as a client would call it ----------
def call(method, url, token=None, body=None, accept="application/json", headers=None):
    data = None if body is None else json.dumps(body).encode()
    all_headers = {"Accept": accept}
    if token:
        all_headers["Authorization"] = "Bearer " + token
    if body is not None:
        all_headers["Content-Type"] = "application/json"
    all_headers.update(headers or {})
    request = urllib.request.Request(url, method=method, data=data, headers=all_headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read(), response.headers
    except urllib.error.HTTPError as error:
        return error.code, error.read(), error.headers


def api(method, path, token, body=None, base=A):
    status, raw, _ = call(method, base + path, token, body)
    parsed = json.loads(raw) if raw else None
    return status, (parsed or {}).get("data") if status < 300 else parsed


def eventually(condition, timeout=10.0, interval=0.05):
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = condition()
        except StaleElementReferenceException:
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            return value
        time.sleep(interval)


# ---------- the browser ----------
def make_driver():
    options = webdriver.ChromeOptions()
    options.binary_location = os.environ.get("MG_CHROMIUM", "/usr/bin/chromium")
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                 "--window-size=1280,1000", "--no-first-run", "--disable-extensions"):
        options.add_argument(flag)
    options.add_experimental_option("prefs", {"download.default_directory": DOWNLOADS,
                                              "download.prompt_for_download": False})
    driver = webdriver.Chrome(service=Service(os.environ.get("MG_CHROMEDRIVER", "/usr/bin/chromedriver")), options=options)
    driver.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": DOWNLOADS})
    driver.set_script_timeout(60)  # a loaded 2-core machine has taken over 20 s to run one isDisplayed script
    return driver


def wait(driver, timeout=10):
    # The console re-renders tables as data arrives: an element read a moment ago may be replaced.
    return WebDriverWait(driver, timeout, ignored_exceptions=(StaleElementReferenceException,))


def visible(driver, css, timeout=10):
    return wait(driver, timeout).until(EC.visibility_of_element_located((By.CSS_SELECTOR, css)))


def loaded_rows(driver, table_id, timeout=10):
    """The rows of a table once it has left its Loading… placeholder."""
    def rows(_):
        body = driver.find_elements(By.CSS_SELECTOR, f"#{table_id} tbody tr")
        if not body:
            return False
        if len(body) == 1 and "Loading" in body[0].text:
            return False
        return body
    return wait(driver, timeout).until(rows)


def shot(driver, name):
    path = os.path.join(SHOTS, name + ".png")
    driver.save_screenshot(path)


def error_text(driver):
    return driver.find_element(By.ID, "error").text


def go(driver, page):
    driver.find_element(By.CSS_SELECTOR, f'#nav a[href="#{page}"]').click()
    wait(driver).until(lambda d: d.find_element(By.ID, "view").get_attribute("data-page") == page)


def sign_in(driver, base, secret):
    driver.delete_all_cookies()
    driver.get(base + "/console")
    field = visible(driver, "#signin-key")
    # Keyboard only: the field has focus on load; Enter submits.
    wait(driver).until(lambda d: d.switch_to.active_element == field)  # the key field has focus on load
    field.send_keys(secret + Keys.ENTER)
    visible(driver, "#nav")


def no_alert(driver):
    try:
        driver.switch_to.alert
        return False
    except NoAlertPresentException:
        return True


# ---------- the tests ----------
class Context:
    tenant_id = None
    admin_key = None


ctx = Context()


def setup():
    status, data = api("POST", "/v1/admin/tenants", OPERATOR, {"name": "Browser Co", "plan": "professional"})
    assert status == 201, data
    ctx.tenant_id = data["tenant"]["id"]
    ctx.admin_key = data["api_key"]["key"]
    status, data = api("PATCH", "/v1/admin/tenants/" + ctx.tenant_id, OPERATOR, {"limits": {"rate_limit_per_minute": 100000}})
    assert status == 200, data


def test_the_page_has_its_csp_header_and_no_inline_code(driver):
    status, body, headers = call("GET", A + "/console")
    assert status == 200
    assert headers["Content-Security-Policy"] == "default-src 'self'; frame-ancestors 'none'", headers
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    assert b"<script>" not in body.lower()


def test_sign_in_create_a_key_see_it_once_use_it_and_see_last_use_and_usage_move(driver):
    sign_in(driver, A, ctx.admin_key)
    # The session cookie is HttpOnly and SameSite=Strict; the key is kept nowhere in the browser.
    cookie = driver.get_cookie("mg_session")
    assert cookie and cookie["httpOnly"] is True and cookie.get("sameSite") == "Strict", cookie
    assert "mg_session" not in driver.execute_script("return document.cookie")
    stored = driver.execute_script("return JSON.stringify(localStorage) + JSON.stringify(sessionStorage) + document.cookie")
    assert ctx.admin_key not in stored and ctx.admin_key not in driver.page_source
    loaded_rows(driver, "keys-table")

    driver.find_element(By.ID, "key-name").send_keys("browser app")
    driver.find_element(By.ID, "key-scope-write").click()
    driver.find_element(By.ID, "key-limit").send_keys("500")
    driver.find_element(By.ID, "key-create-submit").click()
    new_key = visible(driver, "#new-key-value").text
    assert new_key.startswith("mem_live_") and len(new_key) >= 41, new_key
    shot(driver, "keys")
    # Shown once: gone after a reload, and the list shows only its prefix.
    driver.refresh()
    rows = loaded_rows(driver, "keys-table")
    assert not driver.find_elements(By.ID, "new-key-value")
    assert new_key not in driver.page_source
    row = driver.find_element(By.CSS_SELECTOR, f'#keys-table tr[data-key-prefix="{new_key[:12]}"]')
    key_id = row.get_attribute("data-key-id")
    assert row.find_element(By.CSS_SELECTOR, "td.last-used").text == "—"
    assert len(rows) >= 2

    go(driver, "usage")
    chart = visible(driver, "#usage-chart rect.bar")
    before = int(driver.find_element(By.ID, "usage-chart").get_attribute("data-total"))
    assert len(driver.find_elements(By.CSS_SELECTOR, "#usage-chart rect.bar")) == 30
    Select(driver.find_element(By.ID, "usage-days")).select_by_value("90")
    wait(driver).until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#usage-chart rect.bar")) == 90)
    Select(driver.find_element(By.ID, "usage-days")).select_by_value("30")
    wait(driver).until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#usage-chart rect.bar")) == 30)
    del chart

    # The new key, used from the API (instance B).
    for i in range(5):
        status, _ = api("POST", "/v1/memories", new_key, {"text": f"browser memory {i}"}, base=B)
        assert status == 201

    def moved():
        driver.find_element(By.ID, "usage-refresh").click()
        try:
            wait(driver, 3).until(lambda d: d.find_elements(By.CSS_SELECTOR, f'#by-key tr[data-key-id="{key_id}"]'))
        except TimeoutException:
            return False
        total = int(driver.find_element(By.ID, "usage-chart").get_attribute("data-total"))
        row = driver.find_element(By.CSS_SELECTOR, f'#by-key tr[data-key-id="{key_id}"]')
        return total >= before + 5 and row.find_elements(By.TAG_NAME, "td")[2].text == "5"
    assert eventually(moved, timeout=15, interval=0.5), "the usage chart and by_key show the key's 5 requests"
    assert driver.find_element(By.ID, "card-projection").text
    assert "POST /v1/memories" in driver.find_element(By.ID, "by-endpoint").text
    shot(driver, "usage")

    go(driver, "keys")

    def last_used():
        go(driver, "usage")
        go(driver, "keys")
        loaded_rows(driver, "keys-table")
        cell = driver.find_element(By.CSS_SELECTOR, f'#keys-table tr[data-key-id="{key_id}"] td.last-used').text
        return cell if cell != "—" else None
    seen = eventually(last_used, timeout=12, interval=0.5)
    assert seen and seen.startswith(datetime.now(timezone.utc).strftime("%Y-%m-%d")), seen

    # Rotate with a grace: both keys work meanwhile.
    row = driver.find_element(By.CSS_SELECTOR, f'#keys-table tr[data-key-id="{key_id}"]')
    grace = row.find_element(By.CSS_SELECTOR, "input.grace")
    grace.clear()
    grace.send_keys("300")
    row.find_element(By.CSS_SELECTOR, "button.rotate").click()
    wait(driver).until(lambda d: d.find_elements(By.ID, "new-key-value") and d.find_element(By.ID, "new-key-value").text != new_key)
    rotated = driver.find_element(By.ID, "new-key-value").text
    assert rotated.startswith("mem_live_") and rotated != new_key
    assert api("POST", "/v1/memories", new_key, {"text": "old key in grace"}, base=B)[0] == 201
    assert api("POST", "/v1/memories", rotated, {"text": "new key"}, base=B)[0] == 201

    # Revoke the new key with the confirmation; instance B refuses it within a second.
    loaded_rows(driver, "keys-table")
    status, keys = api("GET", "/v1/account/api-keys", ctx.admin_key)
    rotated_id = next(k["id"] for k in keys["api_keys"] if k["key_prefix"] == rotated[:12])
    row = driver.find_element(By.CSS_SELECTOR, f'#keys-table tr[data-key-id="{rotated_id}"]')
    row.find_element(By.CSS_SELECTOR, ".revoke button").click()
    confirm = row.find_element(By.CSS_SELECTOR, ".confirm button.danger")
    assert driver.switch_to.active_element == confirm, "the confirmation takes the focus"
    confirm.send_keys(Keys.ENTER)
    wait(driver).until(lambda d: "Revoked" in d.find_element(By.ID, "notice").text)
    revoked_at = time.monotonic()
    refused = eventually(lambda: api("POST", "/v1/memories", rotated, {"text": "after revoke"}, base=B)[0] == 401, timeout=1.0, interval=0.02)
    elapsed = time.monotonic() - revoked_at
    assert refused, "the revoked key is refused by instance B within 1 s"
    print(f"    revoked key refused by instance B {elapsed * 1000:.0f} ms after the console showed the revocation")
    row = wait(driver).until(lambda d: d.find_element(By.CSS_SELECTOR, f'#keys-table tr[data-key-id="{rotated_id}"]'))
    assert row.find_element(By.CSS_SELECTOR, "td.revoked").text != "—"


def test_memories_render_stored_text_as_text_and_the_query_shows_scores(driver):
    for text in ["User prefers Python for data work", XSS_IMG, XSS_SCRIPT]:
        status, _ = api("POST", "/v1/memories", ctx.admin_key, {"text": text, "space_id": "browser", "metadata": {"topic": "xss" if "<" in text else "lang"}})
        assert status == 201
    sign_in(driver, A, ctx.admin_key)
    go(driver, "memories")
    loaded_rows(driver, "memories-table")
    texts = [c.text for c in driver.find_elements(By.CSS_SELECTOR, "#memories-table td.memory-text")]
    assert XSS_IMG in texts and XSS_SCRIPT in texts, texts
    assert no_alert(driver), "no dialog"
    assert driver.execute_script("return document.querySelectorAll('img').length") == 0, "no <img> node"
    assert driver.execute_script("return document.scripts.length") == 1, "no <script> node but the console's"

    # Filters.
    driver.find_element(By.ID, "filter-meta-key").send_keys("topic")
    driver.find_element(By.ID, "filter-meta-value").send_keys("lang")
    driver.find_element(By.ID, "filter-submit").click()
    wait(driver).until(lambda d: [c.text for c in d.find_elements(By.CSS_SELECTOR, "#memories-table td.memory-text")] == ["User prefers Python for data work"])

    # Query with scores.
    driver.find_element(By.ID, "query-context").send_keys("does the user prefer python?" + Keys.ENTER)
    score = visible(driver, "#query-results td.score").text
    assert 0.5 <= float(score) <= 1.0, score
    field = driver.find_element(By.ID, "query-context")
    field.clear()
    field.send_keys("img src onerror alert" + Keys.ENTER)
    wait(driver).until(lambda d: any(XSS_IMG == c.text for c in d.find_elements(By.CSS_SELECTOR, "#query-results td.text")))
    assert no_alert(driver)
    assert driver.execute_script("return document.querySelectorAll('img').length") == 0
    shot(driver, "memories")

    # History of one memory, then delete it with the confirmation.
    row = driver.find_element(By.CSS_SELECTOR, "#memories-table tbody tr[data-memory-id]")
    memory_id = row.get_attribute("data-memory-id")
    row.find_element(By.CSS_SELECTOR, "button.history").click()
    history = loaded_rows(driver, "history-table")
    assert "(current)" in history[0].text
    row = driver.find_element(By.CSS_SELECTOR, f'#memories-table tr[data-memory-id="{memory_id}"]')
    row.find_element(By.CSS_SELECTOR, "button.danger").click()
    row.find_element(By.CSS_SELECTOR, ".confirm button.danger").click()
    wait(driver).until(lambda d: "Deleted" in d.find_element(By.ID, "notice").text)
    assert api("GET", "/v1/memories/" + memory_id, ctx.admin_key)[0] == 404


def test_the_usage_page_shows_the_storage_the_api_reports(driver):
    sign_in(driver, A, ctx.admin_key)
    go(driver, "usage")
    storage_card = wait(driver).until(lambda d: d.find_element(By.ID, "card-storage")
                                      if d.find_element(By.ID, "card-storage").get_attribute("data-bytes") else None)
    storage = api("GET", "/v1/usage", ctx.admin_key)[1]["storage"]
    assert storage["bytes"] > 0, storage   # the memories of the tests above
    assert int(storage_card.get_attribute("data-bytes")) == storage["bytes"], (storage_card.get_attribute("data-bytes"), storage)
    assert int(storage_card.get_attribute("data-quota-bytes")) == storage["quota_bytes"] > 0, storage
    assert float(storage_card.get_attribute("data-percent")) == float(storage["percent"]), storage
    text = storage_card.text
    assert "Storage" in text and f"({storage_card.get_attribute('data-percent')} %)" in text, text
    shot(driver, "usage-storage")


def test_a_webhook_to_a_loopback_receiver_shows_its_secret_once_delivers_a_test_and_is_deleted(driver):
    arrived = []

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            arrived.append((dict((k.lower(), v) for k, v in self.headers.items()), body))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    hook_url = f"http://127.0.0.1:{server.server_address[1]}/hooks/browser"
    try:
        sign_in(driver, A, ctx.admin_key)
        go(driver, "webhooks")
        wait(driver).until(lambda d: "No webhooks" in d.find_element(By.ID, "webhooks-table").text)
        driver.find_element(By.ID, "webhook-url").send_keys(hook_url)
        driver.find_element(By.ID, "webhook-description").send_keys("browser receiver")
        driver.find_element(By.ID, "webhook-create-submit").click()
        secret = visible(driver, "#new-secret-value").text
        assert secret.startswith("whsec_") and len(secret) == len("whsec_") + 44, secret
        row = wait(driver).until(lambda d: d.find_element(By.CSS_SELECTOR, "#webhooks-table tr[data-webhook-id]"))
        hook_id = row.get_attribute("data-webhook-id")
        assert hook_url in row.text and "browser receiver" in row.text and "*" in row.text, row.text
        status, listed = api("GET", "/v1/webhooks", ctx.admin_key)
        assert [h["id"] for h in listed["webhooks"]] == [hook_id], listed
        assert "secret" not in listed["webhooks"][0]

        row.find_element(By.XPATH, ".//button[text()='Send test']").click()
        wait(driver).until(lambda d: "Test event sent" in d.find_element(By.ID, "notice").text)
        delivered = wait(driver, 30).until(lambda d: d.find_element(
            By.CSS_SELECTOR, '#deliveries-table tr[data-status="delivered"]'))
        assert "webhook.test" in delivered.text and "204" in delivered.text, delivered.text
        assert not error_text(driver), error_text(driver)
        assert len(arrived) == 1, arrived
        headers, body = arrived[0]
        assert json.loads(body)["type"] == "webhook.test"
        assert headers["webhook-id"] in delivered.text, (headers, delivered.text)
        driver.execute_script("document.getElementById('deliveries-slot').scrollIntoView()")
        shot(driver, "webhooks")

        # Shown once: gone after a reload.
        driver.refresh()
        loaded_rows(driver, "webhooks-table")
        assert not driver.find_elements(By.ID, "new-secret-value") and secret not in driver.page_source

        row = driver.find_element(By.CSS_SELECTOR, f'#webhooks-table tr[data-webhook-id="{hook_id}"]')
        row.find_element(By.CSS_SELECTOR, "button.danger").click()
        row.find_element(By.CSS_SELECTOR, ".confirm button.danger").click()
        wait(driver).until(lambda d: "Deleted the webhook" in d.find_element(By.ID, "notice").text)
        wait(driver).until(lambda d: "No webhooks" in d.find_element(By.ID, "webhooks-table").text)
        assert api("GET", "/v1/webhooks/" + hook_id, ctx.admin_key)[0] == 404
    finally:
        server.shutdown()


def test_a_cross_site_post_without_the_csrf_token_is_403(driver):
    sign_in(driver, A, ctx.admin_key)
    # From the console page itself, a write without the token.
    status = driver.execute_async_script("""
        const done = arguments[arguments.length - 1];
        fetch('/v1/account/api-keys', {method: 'POST', credentials: 'same-origin', headers: {'Content-Type': 'application/json'},
               body: JSON.stringify({name: 'no token', scopes: ['admin']})}).then(r => done(r.status), e => done(String(e)));
    """)
    assert status == 403, status
    # From a page of another origin: a form that posts to the gateway (the browser sends the cookie).
    before = len(api("GET", "/v1/account/api-keys", ctx.admin_key)[1]["api_keys"])
    target = A + "/v1/account/api-keys"

    class Evil(BaseHTTPRequestHandler):
        def do_GET(self):
            page = (f'<!doctype html><form id="f" method="POST" action="{target}" enctype="text/plain">'
                    '<input name=\'{"name":"evil","scopes":["admin"],"x":"\' value=\'"}\'></form>'
                    '<script>document.getElementById("f").submit()</script>').encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Evil)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        driver.get(f"http://127.0.0.1:{server.server_address[1]}/")
        wait(driver).until(lambda d: d.current_url.startswith(A))
        body = driver.find_element(By.TAG_NAME, "body").text
        assert "invalid_csrf_token" in body, body
    finally:
        server.shutdown()
    after = len(api("GET", "/v1/account/api-keys", ctx.admin_key)[1]["api_keys"])
    assert after == before, "no key was created"


def test_a_revoked_admin_key_ends_its_console_sessions_on_every_instance(driver):
    status, second = api("POST", "/v1/account/api-keys", ctx.admin_key, {"name": "second admin", "scopes": ["admin", "read"]})
    assert status == 201
    sign_in(driver, A, second["key"])
    loaded_rows(driver, "keys-table")
    # The same cookie works on instance B (sessions live in PostgreSQL).
    driver.get(B + "/console")
    visible(driver, "#nav")
    go(driver, "audit")
    events = loaded_rows(driver, "audit-table")
    assert any("api_key.created" in r.text for r in events)
    shot(driver, "audit")
    go(driver, "webhooks")
    wait(driver).until(lambda d: d.find_element(By.ID, "error").text or d.find_elements(By.CSS_SELECTOR, "#webhooks-table tbody tr:not(.placeholder)")
                       or "No webhooks" in d.find_element(By.ID, "webhooks-table").text)
    assert not error_text(driver), error_text(driver)
    assert api("DELETE", "/v1/account/api-keys/" + second["id"], ctx.admin_key)[0] == 200
    started = time.monotonic()
    status = driver.execute_async_script("""
        const done = arguments[arguments.length - 1];
        fetch('/v1/account/api-keys', {credentials: 'same-origin'}).then(r => done(r.status), e => done(String(e)));
    """)
    assert status == 401, status
    assert time.monotonic() - started < 1.0
    driver.get(A + "/console")
    visible(driver, "#signin-key")
    assert driver.find_element(By.ID, "nav").is_displayed() is False


def test_signing_out_ends_the_session_and_shows_the_sign_in_form(driver):
    sign_in(driver, A, ctx.admin_key)
    loaded_rows(driver, "keys-table")
    driver.find_element(By.ID, "signout").click()
    visible(driver, "#signin-key")
    assert "Signed out" in driver.find_element(By.ID, "notice").text
    assert not driver.find_element(By.ID, "session-bar").is_displayed()
    status = driver.execute_async_script("""
        const done = arguments[arguments.length - 1];
        fetch('/v1/account', {credentials: 'same-origin'}).then(r => done(r.status), e => done(String(e)));
    """)
    assert status == 401, status


def test_the_console_is_readable_at_phone_width(driver):
    sign_in(driver, A, ctx.admin_key)
    driver.set_window_size(390, 844)
    try:
        for page in ("keys", "usage", "memories"):
            driver.get(A + "/console#" + page)
            wait(driver).until(lambda d: d.find_element(By.ID, "view").get_attribute("data-page") == page)
            wait(driver).until(lambda d: not any("Loading" in r.text for r in d.find_elements(By.CSS_SELECTOR, "#view tr.placeholder")))
            overflow = driver.execute_script("return document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 1, f"{page} scrolls sideways by {overflow}px at 390px"
            shot(driver, "phone-" + page)
    finally:
        driver.set_window_size(1280, 1000)


def test_an_operator_changes_a_plan_and_downloads_billing_csv_equal_to_the_api(driver):
    sign_in(driver, A, OPERATOR)
    assert driver.find_element(By.ID, "who").text == "Operator"
    assert not driver.find_element(By.ID, "env-switch").is_displayed(), "operators have no test/live switch"
    loaded_rows(driver, "tenants-table")
    row = driver.find_element(By.CSS_SELECTOR, f'#tenants-table tr[data-tenant-id="{ctx.tenant_id}"]')
    Select(row.find_element(By.CSS_SELECTOR, "select.plan-select")).select_by_value("starter")
    row.find_element(By.CSS_SELECTOR, "button.save-plan").click()
    wait(driver).until(lambda d: "Plan changed to starter" in d.find_element(By.ID, "notice").text)
    status, tenant = api("GET", "/v1/admin/tenants/" + ctx.tenant_id, OPERATOR)
    assert tenant["plan"] == "starter", tenant
    loaded_rows(driver, "tenants-table")
    shot(driver, "tenants")

    go(driver, "billing")
    rows = loaded_rows(driver, "billing-table")
    assert any("Browser Co" in r.text and "starter" in r.text for r in rows)
    shot(driver, "billing")
    period = driver.find_element(By.ID, "billing-period").get_attribute("value")

    def api_csv():
        return call("GET", A + f"/v1/admin/billing?period={period}&format=csv", OPERATOR, accept="text/csv")[1]
    # Usage is flushed every 200 ms: wait until the report holds still.
    eventually(lambda: api_csv() == (time.sleep(0.6) or api_csv()), timeout=10)
    for name in os.listdir(DOWNLOADS):
        os.remove(os.path.join(DOWNLOADS, name))
    driver.find_element(By.ID, "billing-csv").click()
    path = os.path.join(DOWNLOADS, f"billing-{period}.csv")
    assert eventually(lambda: os.path.exists(path) and not any(n.endswith(".crdownload") for n in os.listdir(DOWNLOADS)), timeout=10), os.listdir(DOWNLOADS)
    with open(path, "rb") as f:
        downloaded = f.read()
    assert downloaded == api_csv(), (downloaded, api_csv())
    assert b"Browser Co" in downloaded


def main():
    started = time.monotonic()
    setup()
    tests = [(name, fn) for name, fn in globals().items() if name.startswith("test_") and callable(fn)]
    driver = make_driver()
    passed = failed = 0
    try:
        for name, fn in tests:
            t0 = time.monotonic()
            try:
                fn(driver)
                passed += 1
                print(f"  ok   {name} ({time.monotonic() - t0:.1f}s)", flush=True)
            except Exception:
                failed += 1
                print(f"  FAIL {name} ({time.monotonic() - t0:.1f}s)", flush=True)
                traceback.print_exc()
                try:
                    shot(driver, "FAILED-" + name)
                except Exception:
                    pass
    finally:
        driver.quit()
    print(f"browser tests ran in {time.monotonic() - started:.1f}s; screenshots in {SHOTS}")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
