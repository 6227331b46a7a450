"""The console in a real browser (issue 13): headless Chromium walks the guide's flows
against a real apikeysd and a real apikeys-console. Test names cite the rules they show."""

from __future__ import annotations

import http.client
import re
import urllib.parse

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.support.ui import WebDriverWait

from apikeys_client import RpcError, StatusCode, pb
from conftest import screenshot


# ---------------------------------------------------------------- helpers

def sign_in(driver, console, tenant_id: str, user: str) -> None:
    """Development mode's sign-in form."""
    driver.get(console.url + "/signin")
    driver.find_element(By.ID, "tenant").send_keys(tenant_id)
    driver.find_element(By.ID, "user").send_keys(user)
    load(driver, driver.find_element(By.CSS_SELECTOR, "form[action='/signin'] button[type=submit]"))
    assert driver.find_elements(By.CSS_SELECTOR, ".whoami"), driver.page_source[:2000]


def sign_out(driver) -> None:
    load(driver, driver.find_element(By.XPATH, "//button[normalize-space()='Sign out']"))
    assert driver.current_url.endswith("/signin")


def replaced(old):
    """A wait condition: the page that held ``old`` is gone. Chromium reports a node of a
    page being replaced either as stale or as "does not belong to the document"."""
    def check(_driver) -> bool:
        try:
            old.tag_name
            return False
        except WebDriverException:
            return True
    return check


def load(driver, element) -> None:
    """Clicks a link or submit button and waits until the next page has replaced this one."""
    old = driver.find_element(By.TAG_NAME, "html")
    element.click()
    WebDriverWait(driver, 15).until(replaced(old))
    WebDriverWait(driver, 15).until(lambda d: d.execute_script("return document.readyState") == "complete")


def enter(driver, field, typed: str) -> None:
    """Types into a form field and submits with the Enter key (the keyboard path)."""
    old = driver.find_element(By.TAG_NAME, "html")
    field.send_keys(typed, Keys.ENTER)
    WebDriverWait(driver, 15).until(replaced(old))


def text(driver) -> str:
    return driver.find_element(By.TAG_NAME, "main").text


def row(driver, key_id: str):
    return driver.find_element(By.CSS_SELECTOR, f"tr[data-key-id='{key_id}']")


def key_ids_in_table(driver) -> list[str]:
    return [r.get_attribute("data-key-id") for r in driver.find_elements(By.CSS_SELECTOR, "tbody tr[data-key-id]")]


class Http:
    """A plain HTTP client with a cookie jar, over real TCP, for what a browser hides
    (headers, forged requests)."""

    def __init__(self, console, source: str = "127.0.0.1"):
        self.console = console
        self.source = source
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, form: dict | list | None = None, headers: dict | None = None):
        conn = http.client.HTTPConnection("127.0.0.1", self.console.port, timeout=10,
                                          source_address=(self.source, 0))
        body = urllib.parse.urlencode(form, doseq=True) if form is not None else None
        sent = dict(headers or {})
        if body is not None:
            sent["Content-Type"] = "application/x-www-form-urlencoded"
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        conn.request(method, path, body=body, headers=sent)
        response = conn.getresponse()
        data = response.read().decode("utf-8", "replace")
        for header, value in response.getheaders():
            if header.lower() == "set-cookie":
                name, _, rest = value.partition("=")
                cookie_value = rest.split(";", 1)[0]
                if "Max-Age=0" in value:
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = cookie_value
        conn.close()
        return response, data

    def sign_in(self, tenant_id: str, user: str) -> None:
        _, page = self.request("GET", "/signin")
        token = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
        response, _ = self.request("POST", "/signin", {"csrf": token, "tenant": tenant_id, "user": user})
        assert response.status == 303, response.status

    def csrf(self, path: str = "/hub/keys") -> str:
        _, page = self.request("GET", path)
        return re.search(r'name="csrf" value="([^"]+)"', page).group(1)


# ---------------------------------------------------------------- the guide, end to end

def test_guide_flow_r2_r14_r5_r17_r18_x8_r7_r10_r12_r9(page, console, api, tenant):
    """An admin enables keys and grants Developer, a developer generates and copies a key,
    a service verifies it, the admin finds it by search, revokes it and sees the events."""
    driver = page

    # Alice, tenant admin: Settings shows API keys off by default (R2); she enables them (R14).
    sign_in(driver, console, tenant.id, "alice")
    assert driver.current_url.endswith("/console/keys")
    load(driver, driver.find_element(By.LINK_TEXT, "Settings"))
    enabled = driver.find_element(By.ID, "enabled")
    assert not enabled.is_selected()
    enabled.click()
    max_expiry = driver.find_element(By.ID, "max_expiry")
    max_expiry.clear()
    max_expiry.send_keys("30")
    load(driver, driver.find_element(By.XPATH, "//button[normalize-space()='Save settings']"))
    notice = driver.find_element(By.CSS_SELECTOR, ".notice").text
    assert "API keys enabled" in notice and "maximum expiry 30 days" in notice
    assert driver.find_element(By.ID, "enabled").is_selected()
    screenshot(driver, "settings")
    settings = api.acting(tenant.id, "alice", lambda c: c.tenant_settings.get()).settings
    assert settings.api_keys_enabled and settings.max_expiry_seconds == 30 * 86400

    # R5, R17: she grants Bob the Developer role and a license on the Users page.
    load(driver, driver.find_element(By.LINK_TEXT, "Users"))
    row_bob = driver.find_element(By.CSS_SELECTOR, "tr[data-user-id='bob']")
    load(driver, row_bob.find_element(By.XPATH, ".//button[starts-with(normalize-space(), 'Grant Developer')]"))
    assert "bob now has the Developer role" in driver.find_element(By.CSS_SELECTOR, ".notice").text
    load(driver, driver.find_element(By.CSS_SELECTOR, "tr[data-user-id='bob']").find_element(
        By.XPATH, ".//button[starts-with(normalize-space(), 'Give license')]"))
    bob_row_text = driver.find_element(By.CSS_SELECTOR, "tr[data-user-id='bob']").text
    assert "Developer" in bob_row_text and "Licensed" in bob_row_text
    screenshot(driver, "users")
    sign_out(driver)

    # Bob generates a key (R18) and copies its secret, shown once.
    sign_in(driver, console, tenant.id, "bob")
    assert driver.current_url.endswith("/hub/keys")
    assert not driver.find_elements(By.LINK_TEXT, "Settings")  # admin pages are not offered
    driver.find_element(By.ID, "name").send_keys("ci pipeline")
    driver.find_element(By.CSS_SELECTOR, "#expires_in option[value='604800']").click()
    screenshot(driver, "hub-generate")
    load(driver, driver.find_element(By.XPATH, "//button[normalize-space()='Generate key']"))
    assert driver.current_url.endswith("/hub/keys/new")
    assert "shown only this once" in text(driver)
    secret = driver.find_element(By.ID, "secret").get_attribute("value")
    key_id = driver.find_element(By.ID, "new-key-id").text
    assert secret.startswith("apk_") and key_id.startswith("key_")
    assert secret not in driver.current_url
    driver.execute_cdp_cmd("Browser.grantPermissions", {
        "origin": console.url, "permissions": ["clipboardReadWrite", "clipboardSanitizedWrite"]})
    driver.find_element(By.ID, "copy-secret").click()
    # The label changes when the clipboard's promise settles, a moment after the click.
    WebDriverWait(driver, 15).until(lambda d: d.find_element(By.ID, "copy-secret").text == "Copied")
    copied = driver.execute_async_script(
        "const done = arguments[0]; navigator.clipboard.readText().then(done, e => done('error: ' + e));")
    assert copied == secret
    screenshot(driver, "hub-secret-once")

    # Reloading never shows it again (R18, X7).
    driver.refresh()
    assert secret not in driver.page_source
    assert "cannot be shown again" in driver.find_element(By.ID, "secret-gone").text
    driver.get(console.url + "/hub/keys")
    assert secret not in driver.page_source
    assert "ci pipeline" in row(driver, key_id).text and "Active" in row(driver, key_id).text
    screenshot(driver, "hub-keys")

    # An internal service verifies the key (X8).
    principal = api.verify(secret).principal
    assert (principal.tenant_id, principal.user_id, principal.key_id) == (tenant.id, "bob", key_id)
    sign_out(driver)

    # Alice finds the key by search (R7): part of its name, its owner, its ID.
    sign_in(driver, console, tenant.id, "alice")
    for term in ("PIPE", "bob", key_id):
        search = driver.find_element(By.ID, "search")
        search.clear()
        enter(driver, search, term)
        assert key_ids_in_table(driver) == [key_id], term
    assert "Delete" not in text(driver)  # R13: no delete in the admin console
    screenshot(driver, "console-keys")

    # She revokes it from the row's menu; a confirmation says it cannot be undone (R10, R12).
    r = row(driver, key_id)
    r.find_element(By.TAG_NAME, "summary").click()
    load(driver, r.find_element(By.XPATH, ".//button[normalize-space()='Revoke…']"))
    assert "Revocation cannot be undone" in text(driver) and key_id in text(driver)
    driver.find_element(By.ID, "reason").send_keys("seen in a public log")
    screenshot(driver, "console-revoke-confirm")
    load(driver, driver.find_element(By.ID, "confirm-revoke"))
    assert "1 of 1 key revoked" in text(driver)
    assert api.key(tenant.id, "alice", key_id).status == pb.KEY_STATUS_REVOKED
    refused = api.verify(secret)
    assert isinstance(refused, RpcError) and refused.code == StatusCode.UNAUTHENTICATED

    # The events (R9, X10): filtered by the key, with details, a copy button and a link back.
    load(driver, driver.find_element(By.LINK_TEXT, "Events"))
    enter(driver, driver.find_element(By.ID, "key_id"), key_id)
    actions = [e.text for e in driver.find_elements(By.CSS_SELECTOR, "tbody .action")]
    assert "key.revoked" in actions and "key.generated" in actions
    assert actions.index("key.revoked") < actions.index("key.generated")  # newest first
    revoked_row = driver.find_elements(By.XPATH, "//tr[.//span[@class='action' and text()='key.revoked']]")[0]
    revoked_row.find_element(By.TAG_NAME, "summary").click()
    assert "seen in a public log" in revoked_row.text
    revoked_row.find_element(By.XPATH, ".//button[normalize-space()='Copy key ID']").click()
    # The copy is done when the button says so (the clipboard write is asynchronous).
    WebDriverWait(driver, 15).until(
        lambda d: revoked_row.find_element(By.XPATH, ".//button[contains(@class, 'copied') or normalize-space()='Copied']"))
    copied = driver.execute_async_script(
        "const done = arguments[0]; navigator.clipboard.readText().then(done, e => done('error: ' + e));")
    assert copied == key_id
    screenshot(driver, "console-events")
    load(driver, revoked_row.find_element(By.LINK_TEXT, "Find this key in the key table"))
    assert driver.find_element(By.ID, "search").get_attribute("value") == key_id
    assert key_ids_in_table(driver) == [key_id]
    assert "Revoked" in row(driver, key_id).text
    assert not row(driver, key_id).find_elements(By.TAG_NAME, "summary")  # R10: only Active rows offer Revoke

    # No secret in any log (X7).
    assert secret not in console.log()


def test_r14_x4_disabling_api_keys_asks_first_and_stops_every_key(page, console, api, tenant):
    driver = page
    tenant.ready_for_keys()
    secret = tenant.generate("nightly job").secret
    assert api.verify(secret).principal.user_id == "bob"
    sign_in(driver, console, tenant.id, "alice")
    driver.get(console.url + "/console/settings")
    driver.find_element(By.ID, "enabled").click()
    load(driver, driver.find_element(By.XPATH, "//button[normalize-space()='Save settings']"))
    assert "stops authenticating at once" in text(driver)
    load(driver, driver.find_element(By.LINK_TEXT, "Cancel"))  # nothing changed
    assert api.acting(tenant.id, "alice", lambda c: c.tenant_settings.get()).settings.api_keys_enabled
    assert api.verify(secret).principal.user_id == "bob"

    driver.find_element(By.ID, "enabled").click()
    load(driver, driver.find_element(By.XPATH, "//button[normalize-space()='Save settings']"))
    screenshot(driver, "settings-confirm-disable")
    load(driver, driver.find_element(By.ID, "confirm-settings"))
    assert "API keys disabled" in driver.find_element(By.CSS_SELECTOR, ".notice").text
    refused = api.verify(secret)
    assert isinstance(refused, RpcError) and refused.code == StatusCode.UNAUTHENTICATED

    # Enabling again restores the key (X4), and the change is an event (X10).
    driver.find_element(By.ID, "enabled").click()
    load(driver, driver.find_element(By.XPATH, "//button[normalize-space()='Save settings']"))
    assert api.verify(secret).principal.user_id == "bob"
    driver.get(console.url + "/console/events?action=settings.changed")
    assert len(driver.find_elements(By.CSS_SELECTOR, "tbody tr[data-event-id]")) >= 3


def test_x11_r6_key_table_sorts_filters_by_status_and_pages(page, console, api, tenant):
    driver = page
    tenant.ready_for_keys()
    api.acting(tenant.id, "alice", lambda c: c.tenant_settings.update(max_keys_per_user=100))
    ids = {f"k{i:02d}": tenant.generate(f"k{i:02d}").key.id for i in range(22)}
    api.acting(tenant.id, "bob", lambda c: c.keys.revoke(key_id=ids["k05"]))
    sign_in(driver, console, tenant.id, "alice")

    def names() -> list[str]:
        return [c.text for c in driver.find_elements(By.CSS_SELECTOR, "tbody td.name")]

    # Sorted by a column header, ascending, then descending on a second click.
    load(driver, driver.find_element(By.XPATH, "//th/a[starts-with(normalize-space(), 'Name')]"))
    assert names() == [f"k{i:02d}" for i in range(20)]
    assert driver.find_element(By.XPATH, "//th[a[starts-with(normalize-space(), 'Name')]]").get_attribute("aria-sort") == "ascending"
    # Paging: 20 a page, then the rest, and back to the first.
    load(driver, driver.find_element(By.LINK_TEXT, "Next page"))
    assert names() == ["k20", "k21"]
    assert not driver.find_elements(By.LINK_TEXT, "Next page")
    load(driver, driver.find_element(By.LINK_TEXT, "First page"))
    assert names()[0] == "k00"
    load(driver, driver.find_element(By.XPATH, "//th/a[starts-with(normalize-space(), 'Name')]"))
    assert names()[:2] == ["k21", "k20"]
    # The status filter (R8).
    driver.find_element(By.CSS_SELECTOR, "#status option[value='revoked']").click()
    load(driver, driver.find_element(By.XPATH, "//form[@role='search']//button"))
    assert key_ids_in_table(driver) == [ids["k05"]]
    assert "Revoked" in row(driver, ids["k05"]).text
    # Sorting from the form too, where a phone hides the column headers.
    driver.find_element(By.CSS_SELECTOR, "#status option[value='']").click()
    driver.find_element(By.CSS_SELECTOR, "#sort option[value='name']").click()
    driver.find_element(By.CSS_SELECTOR, "#order option[value='desc']").click()
    load(driver, driver.find_element(By.XPATH, "//form[@role='search']//button"))
    assert names()[:3] == ["k21", "k20", "k19"]


def test_r3_console_pages_are_for_tenant_admins_and_sign_out_ends_the_session(page, console, api, tenant):
    driver = page
    tenant.ready_for_keys()
    sign_in(driver, console, tenant.id, "bob")
    for path in ("/console/keys", "/console/settings", "/console/events", "/console/users"):
        driver.get(console.url + path)
        assert "This page is for tenant admins (R3)" in text(driver), path
    sign_out(driver)
    driver.get(console.url + "/hub/keys")
    assert driver.current_url.endswith("/signin")
    # The session ends at the console too: its old cookie, replayed, signs nobody in.
    client = Http(console)
    client.sign_in(tenant.id, "bob")
    old_cookies = dict(client.cookies)
    response, _ = client.request("POST", "/signout", {"csrf": client.csrf()})
    assert response.status == 303
    client.cookies = old_cookies
    response, _ = client.request("GET", "/hub/keys")
    assert response.status == 303 and response.getheader("Location") == "/signin"


def test_r9_x9_excessive_use_event_leads_to_the_key_and_its_revocation(page, console, api, tenant):
    """The guide's R9 flow: a key used more than the threshold (X9, set on the Settings
    page) raises an excessive-use event; from it the admin finds the key and revokes it."""
    import time
    driver = page
    tenant.ready_for_keys()
    generated = tenant.generate("busy worker")
    quiet = tenant.generate("quiet worker").key.id
    sign_in(driver, console, tenant.id, "alice")
    driver.get(console.url + "/console/settings")
    threshold = driver.find_element(By.ID, "excessive_use")
    threshold.clear()
    threshold.send_keys("2")
    load(driver, driver.find_element(By.XPATH, "//button[normalize-space()='Save settings']"))
    assert "excessive use above 2 verifications a minute" in driver.find_element(By.CSS_SELECTOR, ".notice").text
    for _ in range(5):
        assert api.verify(generated.secret).principal.key_id == generated.key.id
    deadline = time.monotonic() + 20  # usage reaches the store with the next flush
    while True:
        driver.get(console.url + "/console/events?action=key.excessive_use")
        rows = driver.find_elements(By.CSS_SELECTOR, "tbody tr[data-event-id]")
        if rows or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert len(rows) == 1 and generated.key.id in rows[0].text
    rows[0].find_element(By.TAG_NAME, "summary").click()
    load(driver, rows[0].find_element(By.LINK_TEXT, "Find this key in the key table"))
    assert key_ids_in_table(driver) == [generated.key.id]  # not the quiet one
    r = row(driver, generated.key.id)
    r.find_element(By.TAG_NAME, "summary").click()
    load(driver, r.find_element(By.XPATH, ".//button[normalize-space()='Revoke…']"))
    load(driver, driver.find_element(By.ID, "confirm-revoke"))
    assert "1 of 1 key revoked" in text(driver)
    refused = api.verify(generated.secret)
    assert isinstance(refused, RpcError) and refused.code == StatusCode.UNAUTHENTICATED
    assert api.key(tenant.id, "alice", quiet).status == pb.KEY_STATUS_ACTIVE


def test_r11_x6_bulk_revoke_reports_each_keys_outcome(page, console, api, tenant):
    """Three keys ticked; before the confirmation one is revoked and one deleted by Bob:
    the others are still revoked, and each key's outcome is shown."""
    driver = page
    tenant.ready_for_keys()
    keys = [tenant.generate(f"worker {i}").key.id for i in range(4)]
    sign_in(driver, console, tenant.id, "alice")
    # The script's select-all box ticks and clears every Active row.
    boxes = driver.find_elements(By.CSS_SELECTOR, "input[name=key_id]")
    assert len(boxes) == 4
    driver.find_element(By.ID, "select-all").click()
    assert all(b.is_selected() for b in boxes)
    driver.find_element(By.ID, "select-all").click()
    assert not any(b.is_selected() for b in boxes)
    for key_id in keys[:3]:
        driver.find_element(By.ID, f"select-{key_id}").click()
    load(driver, driver.find_element(By.XPATH, "//button[normalize-space()='Revoke selected…']"))
    assert "Revoke these 3 keys?" in text(driver) and "cannot be undone" in text(driver)
    # Meanwhile Bob revokes one and deletes another.
    api.acting(tenant.id, "bob", lambda c: c.keys.revoke(key_id=keys[1]))
    api.acting(tenant.id, "bob", lambda c: c.keys.delete(key_id=keys[2]))
    load(driver, driver.find_element(By.ID, "confirm-revoke"))
    outcomes = {r.get_attribute("data-key-id"): r.find_element(By.CSS_SELECTOR, ".badge").text
                for r in driver.find_elements(By.CSS_SELECTOR, "table.results tbody tr")}
    assert outcomes == {keys[0]: "Revoked", keys[1]: "Not active", keys[2]: "Not found"}
    assert "1 of 3 keys revoked" in text(driver)
    screenshot(driver, "console-bulk-revoke-results")
    assert api.key(tenant.id, "alice", keys[0]).status == pb.KEY_STATUS_REVOKED
    assert api.key(tenant.id, "alice", keys[3]).status == pb.KEY_STATUS_ACTIVE  # not ticked


def test_r17_r4_generate_refusals_are_said_plainly(page, console, api, tenant):
    driver = page
    sign_in(driver, console, tenant.id, "bob")

    def attempt() -> str:
        name = driver.find_element(By.ID, "name")
        name.clear()  # the refused page keeps what was typed
        name.send_keys("my key")
        load(driver, driver.find_element(By.XPATH, "//button[normalize-space()='Generate key']"))
        return driver.find_element(By.ID, "generate-error").text

    assert "you have no license" in attempt()
    api.acting(tenant.id, "alice", lambda c: c.directory.set_license(user_id="bob", licensed=True))
    assert "API keys are disabled in this tenant" in attempt()
    api.acting(tenant.id, "alice", lambda c: c.tenant_settings.update(api_keys_enabled=True))
    message = attempt()
    assert "you do not have the Developer role" in message
    screenshot(driver, "hub-refused")
    api.acting(tenant.id, "alice", lambda c: c.directory.assign_role(user_id="bob", role=pb.ROLE_DEVELOPER))
    driver.find_element(By.ID, "name").clear()
    attempt_name = driver.find_element(By.ID, "name")
    attempt_name.send_keys("finally")
    load(driver, driver.find_element(By.XPATH, "//button[normalize-space()='Generate key']"))
    assert driver.current_url.endswith("/hub/keys/new")


def test_x2_r16_expiry_and_key_limit_refusals(page, console, api, tenant):
    """A choice beyond the tenant's maximum expiry and a key beyond the per-user maximum
    are refused with the reason (X2, R16)."""
    driver = page
    tenant.ready_for_keys()
    api.acting(tenant.id, "alice", lambda c: c.tenant_settings.update(max_expiry_seconds=86400, max_keys_per_user=1))
    sign_in(driver, console, tenant.id, "bob")
    driver.find_element(By.ID, "name").send_keys("long lived")
    driver.find_element(By.CSS_SELECTOR, "#expires_in option[value='604800']").click()
    load(driver, driver.find_element(By.XPATH, "//button[normalize-space()='Generate key']"))
    assert "later than this tenant allows" in driver.find_element(By.ID, "generate-error").text
    assert driver.find_element(By.ID, "name").get_attribute("value") == "long lived"  # what was typed stays
    tenant.generate("first")
    driver.find_element(By.CSS_SELECTOR, "#expires_in option[value='']").click()
    load(driver, driver.find_element(By.XPATH, "//button[normalize-space()='Generate key']"))
    assert "as many Active keys as this tenant allows" in driver.find_element(By.ID, "generate-error").text


def test_r19_x5_r13_owner_renames_revokes_and_deletes_own_keys(page, console, api, tenant):
    driver = page
    tenant.ready_for_keys()
    first = tenant.generate("old name").key.id
    second = tenant.generate("to delete").key.id
    sign_in(driver, console, tenant.id, "bob")

    r = row(driver, first)
    r.find_element(By.TAG_NAME, "summary").click()
    field = r.find_element(By.ID, f"rename-{first}")
    field.clear()
    field.send_keys("new name")
    load(driver, r.find_element(By.XPATH, ".//button[normalize-space()='Save name']"))
    assert "is now named “new name”" in driver.find_element(By.CSS_SELECTOR, ".notice").text
    assert "new name" in row(driver, first).text
    assert api.key(tenant.id, "bob", first).name == "new name"

    load(driver, row(driver, first).find_element(By.XPATH, ".//button[starts-with(normalize-space(), 'Revoke…')]"))
    assert "Revocation cannot be undone" in text(driver)
    load(driver, driver.find_element(By.ID, "confirm"))
    assert "Revoked" in row(driver, first).text
    assert not row(driver, first).find_elements(By.XPATH, ".//button[starts-with(normalize-space(), 'Revoke…')]")

    load(driver, row(driver, second).find_element(By.XPATH, ".//button[starts-with(normalize-space(), 'Delete…')]"))
    screenshot(driver, "hub-delete-confirm")
    load(driver, driver.find_element(By.ID, "confirm"))
    assert second not in key_ids_in_table(driver)
    gone = api.acting(tenant.id, "bob", lambda c: c.keys.list()).keys
    assert second not in [k.id for k in gone]


# ---------------------------------------------------------------- safety

XSS_NAME = "<script>window.__pwned=1</script><img src=x onerror=\"window.__pwned=2\">"


def test_x12_key_name_with_script_renders_as_text_everywhere(page, console, api, tenant):
    driver = page
    tenant.ready_for_keys()
    sign_in(driver, console, tenant.id, "bob")
    driver.find_element(By.ID, "name").send_keys(XSS_NAME)
    load(driver, driver.find_element(By.XPATH, "//button[normalize-space()='Generate key']"))
    key_id = driver.find_element(By.ID, "new-key-id").text
    assert driver.find_element(By.ID, "new-key-name").text == XSS_NAME
    driver.get(console.url + "/hub/keys")
    assert row(driver, key_id).find_element(By.CSS_SELECTOR, "td.name").text == XSS_NAME
    assert driver.execute_script("return window.__pwned") is None
    assert not driver.find_elements(By.CSS_SELECTOR, "main img")
    sign_out(driver)
    sign_in(driver, console, tenant.id, "alice")
    driver.get(console.url + "/console/keys?search=" + urllib.parse.quote("<script>"))
    assert row(driver, key_id).find_element(By.CSS_SELECTOR, "td.name").text == XSS_NAME
    assert driver.find_element(By.ID, "search").get_attribute("value") == "<script>"
    screenshot(driver, "console-xss-as-text")
    driver.get(console.url + "/console/events?actor=" + urllib.parse.quote("\"><script>window.__pwned=3</script>"))
    assert driver.execute_script("return window.__pwned") is None


def test_csrf_forged_forms_change_nothing(page, console, api, tenant, workdir):
    """A form without the session's token is refused: from a page of another origin that
    posts to the console (same site, so the SameSite cookie goes along), with a wrong
    token, and with none."""
    driver = page
    tenant.ready_for_keys()
    key_id = tenant.generate("target").key.id
    sign_in(driver, console, tenant.id, "alice")

    # An attacker's page on another port of this host auto-submits a revoke.
    import http.server
    import threading
    hostile = (f"<form id=f method=post action='{console.url}/console/keys/revoke'>"
               f"<input name=only value='{key_id}'><input name=confirmed value=yes></form>"
               "<script>document.getElementById('f').submit()</script>")

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(hostile.encode())

        def log_message(self, *args):
            pass

    # Threads: Chromium opens a spare connection that would hold a one-thread server.
    attacker = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    attacker.daemon_threads = True
    threading.Thread(target=attacker.serve_forever, daemon=True).start()
    try:
        driver.get(f"http://127.0.0.1:{attacker.server_address[1]}/")
        driver.find_element(By.TAG_NAME, "h1")  # the console's answer has loaded
        assert "Request refused" in driver.page_source
    finally:
        attacker.shutdown()
        attacker.server_close()
    assert api.key(tenant.id, "alice", key_id).status == pb.KEY_STATUS_ACTIVE

    # A tampered token in the console's own form.
    driver.get(console.url + "/console/keys")
    driver.execute_script("document.querySelector('#keys-form input[name=csrf]').value = 'forged'")
    r = row(driver, key_id)
    r.find_element(By.TAG_NAME, "summary").click()
    load(driver, r.find_element(By.XPATH, ".//button[normalize-space()='Revoke…']"))
    assert "Request refused" in text(driver)
    assert api.key(tenant.id, "alice", key_id).status == pb.KEY_STATUS_ACTIVE

    # Over plain HTTP with a valid session cookie and no token: settings stay unchanged.
    client = Http(console)
    client.sign_in(tenant.id, "alice")
    response, _ = client.request("POST", "/console/settings", {"enabled": "", "max_expiry": "1",
                                                               "max_expiry_unit": "hours", "max_keys": "0",
                                                               "excessive_use": "1"})
    assert response.status == 403
    assert api.acting(tenant.id, "alice", lambda c: c.tenant_settings.get()).settings.api_keys_enabled
    # GET never changes anything.
    response, _ = client.request("GET", f"/console/keys/revoke?only={key_id}&confirmed=yes")
    assert response.status in (404, 405)
    assert api.key(tenant.id, "alice", key_id).status == pb.KEY_STATUS_ACTIVE


def test_r18_x7_secret_page_headers_no_store_csp_and_no_secret_in_url_or_log(console, api, tenant, server):
    tenant.ready_for_keys()
    client = Http(console)
    client.sign_in(tenant.id, "bob")
    response, _ = client.request("POST", "/hub/keys/generate", {"csrf": client.csrf(), "name": "headers", "expires_in": ""})
    assert response.status == 303
    location = response.getheader("Location")
    assert location == "/hub/keys/new"
    response, body = client.request("GET", location)
    secret = re.search(r'id="secret" class="secret" readonly value="([^"]+)"', body).group(1)
    assert response.getheader("Cache-Control") == "no-store"
    csp = response.getheader("Content-Security-Policy")
    assert "script-src 'self'" in csp and "default-src 'none'" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert response.getheader("X-Content-Type-Options") == "nosniff"
    assert "<script>" not in body and " style=" not in body  # nothing inline for the CSP to block
    response, body = client.request("GET", location)
    assert secret not in body and "cannot be shown again" in body
    assert secret not in console.log()
    assert secret not in open(server.stderr_path, errors="replace").read()


def test_dev_mode_cookies_httponly_samesite_and_banner(console, tenant):
    client = Http(console)
    response, body = client.request("GET", "/signin")
    assert "DEVELOPMENT MODE" in body
    token = re.search(r'name="csrf" value="([^"]+)"', body).group(1)
    response, _ = client.request("POST", "/signin", {"csrf": token, "tenant": tenant.id, "user": "alice"})
    cookie = [v for k, v in response.getheaders() if k.lower() == "set-cookie" and "apikeys_console_session=" in v][0]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    # Plain HTTP on loopback in development mode: the one case without Secure (README).
    assert "Secure" not in cookie
    # An unknown user cannot sign in, even in development mode.
    other = Http(console)
    _, body = other.request("GET", "/signin")
    token = re.search(r'name="csrf" value="([^"]+)"', body).group(1)
    response, body = other.request("POST", "/signin", {"csrf": token, "tenant": tenant.id, "user": "mallory"})
    assert response.status == 403 and "does not know user" in body


def test_trusted_user_header_counts_only_from_configured_proxies(server, workdir, tenant):
    from conftest import start_console
    proxied = start_console(server, "--trusted-user-header", "X-Remote-User", "--trusted-proxy", "127.0.0.1",
                            log_dir=workdir)
    elsewhere = start_console(server, "--trusted-user-header", "X-Remote-User", "--trusted-proxy", "127.0.0.9",
                              log_dir=workdir)
    try:
        header = {"X-Remote-User": f"{tenant.id}/alice"}
        # From the configured proxy: signed in as alice, with a Secure cookie.
        via_proxy = Http(proxied)
        response, body = via_proxy.request("GET", "/hub/keys", headers=header)
        assert response.status == 200 and f"alice · {tenant.id}" in body
        cookie = [v for k, v in response.getheaders() if k.lower() == "set-cookie"][0]
        assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie
        assert "DEVELOPMENT MODE" not in body
        # A proxied client that never keeps the cookie gets alice's one session back each
        # time, not a new session per request (bounded memory under a flood).
        session_ids = set()
        for _ in range(200):
            cookieless = Http(proxied)
            response, _ = cookieless.request("GET", "/hub/keys", headers=header)
            assert response.status == 200
            session_ids.add(cookieless.cookies["apikeys_console_session"])
        assert session_ids == {via_proxy.cookies["apikeys_console_session"]}
        # From another address the header is ignored, even with the session cookie.
        direct = Http(proxied, source="127.0.0.2")
        direct.cookies = dict(via_proxy.cookies)
        response, _ = direct.request("GET", "/hub/keys", headers=header)
        assert response.status == 303 and response.getheader("Location") == "/signin"
        # A console that trusts another proxy ignores it too; no sign-in by name without --dev.
        response, _ = Http(elsewhere).request("GET", "/hub/keys", headers=header)
        assert response.status == 303
        response, body = Http(elsewhere).request("POST", "/signin", {"tenant": tenant.id, "user": "alice"})
        assert response.status == 403
    finally:
        proxied.stop()
        elsewhere.stop()


# ---------------------------------------------------------------- looks and access

def test_every_control_is_labelled_and_pages_fit_a_phone(page, console, api, tenant):
    driver = page
    tenant.ready_for_keys("alice")
    tenant.generate("a key with a rather long descriptive name for a phone screen", user="alice")
    sign_in(driver, console, tenant.id, "alice")
    unlabelled_js = """
      return [...document.querySelectorAll('input:not([type=hidden]), select, button, textarea')].filter(el => {
        if (el.tagName === 'BUTTON') return !el.textContent.trim() && !el.getAttribute('aria-label');
        if (el.getAttribute('aria-label')) return false;
        return !(el.id && document.querySelector('label[for="' + el.id + '"]'));
      }).map(el => el.outerHTML);
    """
    for path in ("/console/keys", "/console/settings", "/console/events", "/console/users", "/hub/keys"):
        driver.get(console.url + path)
        assert driver.execute_script(unlabelled_js) == [], path
    # Keyboard: the skip link is the first stop and leads to the content.
    driver.get(console.url + "/hub/keys")
    driver.find_element(By.TAG_NAME, "body").send_keys(Keys.TAB)
    assert driver.switch_to.active_element.text == "Skip to content"
    # The per-row menu works from the keyboard: Enter opens it, Tab reaches Revoke, Enter submits.
    driver.get(console.url + "/console/keys")
    summary = driver.find_element(By.CSS_SELECTOR, "details.rowmenu summary")
    driver.execute_script("arguments[0].focus()", summary)
    summary.send_keys(Keys.ENTER)
    assert driver.find_element(By.CSS_SELECTOR, "details.rowmenu").get_attribute("open") is not None
    driver.switch_to.active_element.send_keys(Keys.TAB)
    assert driver.switch_to.active_element.text == "Revoke…"
    old = driver.find_element(By.TAG_NAME, "html")
    driver.switch_to.active_element.send_keys(Keys.ENTER)
    WebDriverWait(driver, 15).until(replaced(old))
    assert "Revocation cannot be undone" in text(driver)
    # Phone width: nothing wider than the screen.
    driver.set_window_size(390, 844)
    for path, name in (("/console/keys", "phone-console-keys"), ("/hub/keys", "phone-hub-keys")):
        driver.get(console.url + path)
        assert driver.execute_script("return document.documentElement.scrollWidth <= window.innerWidth + 1"), path
        screenshot(driver, name)


def test_r9_x10_events_filter_by_action_actor_and_time(page, console, api, tenant):
    driver = page
    tenant.ready_for_keys()
    key_id = tenant.generate("audited").key.id
    api.acting(tenant.id, "bob", lambda c: c.keys.rename(key_id=key_id, name="audited again"))
    sign_in(driver, console, tenant.id, "alice")
    driver.get(console.url + "/console/events?action=key.renamed")
    rows = driver.find_elements(By.CSS_SELECTOR, "tbody tr[data-event-id]")
    assert len(rows) == 1 and key_id in rows[0].text and "bob" in rows[0].text
    driver.get(console.url + "/console/events?actor=nobody-at-all")
    assert "No event matches" in text(driver)
    driver.get(console.url + "/console/events?since=2000-01-01T00:00&until=2000-01-02T00:00")
    assert "No event matches" in text(driver)
    driver.get(console.url + "/console/events?since=2000-01-01T00:00")
    assert len(driver.find_elements(By.CSS_SELECTOR, "tbody tr[data-event-id]")) >= 4


def test_x11_events_page_fifty_at_a_time_keeping_the_filter(page, console, api, tenant):
    driver = page
    tenant.ready_for_keys()
    key_id = tenant.generate("renamed often").key.id
    for n in range(60):
        api.acting(tenant.id, "bob", lambda c, n=n: c.keys.rename(key_id=key_id, name=f"name {n}"))
    sign_in(driver, console, tenant.id, "alice")
    driver.get(console.url + "/console/events?action=key.renamed")
    first = [r.get_attribute("data-event-id") for r in driver.find_elements(By.CSS_SELECTOR, "tbody tr[data-event-id]")]
    assert len(first) == 50
    older = driver.find_element(By.CSS_SELECTOR, "nav.pager a[rel=next]")
    assert "action=key.renamed" in older.get_attribute("href")
    older.click()
    rows = driver.find_elements(By.CSS_SELECTOR, "tbody tr[data-event-id]")
    second = [r.get_attribute("data-event-id") for r in rows]
    # Newest first: the oldest ten renames, none repeated, every row still a rename.
    assert len(second) == 10 and not set(first) & set(second)
    assert all("name " in r.text or key_id in r.text for r in rows)
    assert not driver.find_elements(By.CSS_SELECTOR, "nav.pager a[rel=next]")
    driver.find_element(By.LINK_TEXT, "Newest").click()
    assert [r.get_attribute("data-event-id") for r in driver.find_elements(By.CSS_SELECTOR, "tbody tr[data-event-id]")] == first


def test_apikeysd_unreachable_is_said_plainly(workdir, tenant):
    """With apikeysd gone, the console still answers and says so; it signs nobody in."""
    import socket
    from types import SimpleNamespace

    with socket.socket() as probe:  # a port that nothing listens on
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    from conftest import start_console
    lonely = start_console(SimpleNamespace(port=closed_port), "--dev", log_dir=workdir)
    try:
        client = Http(lonely)
        _, body = client.request("GET", "/signin")
        token = re.search(r'name="csrf" value="([^"]+)"', body).group(1)
        response, body = client.request("POST", "/signin", {"csrf": token, "tenant": tenant.id, "user": "alice"})
        assert response.status == 403
        assert "apikeysd cannot be reached right now" in body
        assert "apikeys_console_session" not in client.cookies
    finally:
        lonely.stop()


def test_a_taken_port_is_one_line_naming_the_flag(workdir):
    """Like apikeysd (issue 11): a console that cannot listen says where and what to change
    in one line and exits 1, instead of NIO's `bind(descriptor:ptr:bytes:)` error."""
    import socket
    import subprocess

    from conftest import console_path
    from helpers import secret_file

    credential = secret_file("x" * 40 + "\n")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run([str(console_path()), "--dev", "--port", str(port), "--service-credential-file", credential],
                                capture_output=True, text=True, timeout=30)
    assert result.returncode == 1, result
    last = result.stderr.strip().splitlines()[-1]
    assert last == (f"apikeys-console: cannot listen on 127.0.0.1:{port}: the address is in use "
                    "(another apikeysd or program listens there; stop it or choose another --port)"), result.stderr
    assert "bind(descriptor" not in result.stderr
