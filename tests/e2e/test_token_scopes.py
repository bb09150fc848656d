"""Admin tokens by scope, and secrets in the config from the environment."""
import hashlib

from crierlib import Crier, run_crier

ADMIN_TOKEN = "admin-token-for-scope-tests"
REPORT_TOKEN = "report-token-for-scope-tests"


def digest(token):
    return "sha256:" + hashlib.sha256(token.encode()).hexdigest()


CONFIG = """
clock = "test";
store: { plugin = "memory"; };
admin: { tokens = [ "%s" ]; report_tokens = [ "${CRIER_REPORT_DIGEST}" ]; };
""" % digest(ADMIN_TOKEN)


def bearer(token):
    return {"Authorization": "Bearer " + token}


def start(tmp_path):
    env = {"CRIER_REPORT_DIGEST": digest(REPORT_TOKEN)}
    return Crier(tmp_path, CONFIG, env=env).start()


def test_report_token_reads_reports(tmp_path):
    c = start(tmp_path)
    r = c.get("/v1/reports/rules", headers=bearer(REPORT_TOKEN))
    assert r.status == 200, r.body
    r = c.get("/v1/reports/rules", headers=bearer(ADMIN_TOKEN))
    assert r.status == 200, r.body
    c.stop()


def test_report_token_not_admin(tmp_path):
    c = start(tmp_path)
    r = c.get("/v1/profiles?email=ana@example.gov",
              headers=bearer(REPORT_TOKEN))
    assert r.status == 403
    assert "may only read reports" in r.json()["error"]
    r = c.get("/v1/profiles?email=ana@example.gov",
              headers=bearer(ADMIN_TOKEN))
    assert r.status == 404
    assert "reason=scope" in c.log_text()
    assert REPORT_TOKEN not in c.log_text()
    c.stop()


def test_wrong_token_rejected(tmp_path):
    c = start(tmp_path)
    r = c.get("/v1/reports/rules", headers=bearer("guess"))
    assert r.status == 401
    c.stop()


def test_token_in_both_lists_fails_check(tmp_path):
    c = Crier(tmp_path, CONFIG.replace("${CRIER_REPORT_DIGEST}",
                                       digest(ADMIN_TOKEN)))
    code, out, err = run_crier("check", "-c", c.conf)
    assert code == 2
    assert "admin.report_tokens[0]: is also in admin.tokens" in err


def test_secret_from_environment_missing(tmp_path):
    """A secret named from the environment must be set."""
    c = Crier(tmp_path, CONFIG)
    code, out, err = run_crier("check", "-c", c.conf)
    assert code == 2
    assert "CRIER_REPORT_DIGEST" in err
