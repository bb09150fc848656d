"""Email addresses through the real binary: ingest and the email channel
against the is_email test set (version 3.05). Every address the set
classes as valid, or valid with only a DNS warning, is accepted and
delivered. Every other one is rejected at ingest with status 400."""
import hashlib
import os
import xml.etree.ElementTree as ET

from crierlib import ROOT, Crier, Store, maildir_messages, wait_until

TOKEN = "admin-token-for-address-tests"
TEMPLATES = os.path.join(ROOT, "tests", "data", "e2e-templates")
TESTS_XML = os.path.join(os.path.dirname(ROOT), "shared", "data", "email",
                         "isemail_tests.xml")
# Where crier differs from the set on purpose: test@io has a domain of
# one label, which a resolver tries against the local search domains.
DIFFERENCES = {"5": False}
CONFIG = """
templates = "%s";
store: { plugin = "sqlite"; path = "var/crier.db"; };
triggers: { api: { plugin = "api"; }; };
channels: { email: { plugin = "email"; outbox = "var/outbox";
                     from = "City of Example <alerts@example.gov>"; }; };
rules = ( { name = "notice"; on = "notice";
            send = { channel = "email"; template = "notice"; }; } );
delivery: { message_id_domain = "crier.example.gov"; poll = "100ms"; };
admin: { tokens = [ "sha256:%s" ]; };
"""


def address_decode(text):
    """Turns the set's control pictures (U+2400 + N, and U+2421 for DEL)
    back into the control characters they represent."""
    out = []
    for ch in text or "":
        code = ord(ch)
        if 0x2400 <= code <= 0x241F:
            out.append(chr(code - 0x2400))
        elif code == 0x2421:
            out.append("\x7f")
        else:
            out.append(ch)
    return "".join(out)


def cases():
    """Returns (id, address, expected accepted) for each test of the set."""
    out = []
    for test in ET.parse(TESTS_XML).getroot().iter("test"):
        test_id = test.get("id")
        category = test.findtext("category")
        accepted = category in ("ISEMAIL_VALID_CATEGORY", "ISEMAIL_DNSWARN")
        out.append((test_id, address_decode(test.findtext("address")),
                    DIFFERENCES.get(test_id, accepted)))
    return out


def test_isemail_set_end_to_end(tmp_path):
    config = CONFIG % (TEMPLATES, hashlib.sha256(TOKEN.encode()).hexdigest())
    c = Crier(tmp_path, config).start()
    store = Store(os.path.join(c.workdir, "var", "crier.db"))
    all_cases = cases()
    mismatches = []
    try:
        for test_id, address, accepted in all_cases:
            r = c.post("/v1/events", {"events": [{
                "type": "notice", "profile": {"email": address},
                "properties": {"subject": "Test %s" % test_id,
                               "body": "Address check."}}]})
            expected = 202 if accepted else 400
            if r.status != expected:
                mismatches.append((test_id, address, r.status))
        wait_until(store.pipeline_done, timeout=30)
        expected_sent = sum(1 for case in all_cases if case[2])
        wait_until(lambda: len(store.jobs()) == expected_sent and
                   all(j["state"] == "sent" for j in store.jobs()),
                   timeout=30)
        messages = maildir_messages(os.path.join(c.workdir, "var",
                                                 "outbox"))
    finally:
        code = c.stop()
    assert code == 0
    assert len(all_cases) == 164
    assert mismatches == []
    # 14 valid and 8 with DNS warnings, less test@io.
    assert expected_sent == 21
    assert len(messages) == expected_sent
