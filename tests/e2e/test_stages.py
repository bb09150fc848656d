"""Lifecycle stages: moves, guards and the history of why."""
import os

from crierlib import PLUGINS, Crier, Store, run_crier, wait_until

CONFIG = """
clock = "test";
store: { plugin = "sqlite"; path = "var/crier.db"; };
triggers: { api: { plugin = "api"; }; };
programs: {
  forward: { };
  both:    { back = true; };
  listed:  { stages = [ "new", "active", "paused", "closed" ];
             moves = { new = [ "active" ]; active = [ "paused", "closed" ];
                       paused = [ "active" ]; }; };
};
rules = (
  { name = "fwd-use";  program = "forward"; on = "use";    stage = "use"; },
  { name = "fwd-back"; program = "forward"; on = "reset";  stage = "awareness"; },
  { name = "both-use"; program = "both";    on = "use";    stage = "use"; },
  { name = "both-back"; program = "both";   on = "reset";  stage = "awareness"; },
  { name = "l-active"; program = "listed";  on = "use";    stage = "active"; },
  { name = "l-closed"; program = "listed";  on = "close";  stage = "closed"; },
  { name = "l-new";    program = "listed";  on = "reset";  stage = "new"; }
);
"""


def start(tmp_path):
    c = Crier(tmp_path, CONFIG).start()
    c.store = Store(os.path.join(c.workdir, "var", "crier.db"))
    return c


def event(c, kind):
    r = c.post("/v1/events", {"type": kind,
                              "profile": {"email": "ana@example.gov"}})
    assert r.status == 202
    wait_until(c.store.pipeline_done)


def stage(c, program):
    return c.store.stage_of("email", "ana@example.gov", program)


def test_forward_only_by_default(tmp_path):
    c = start(tmp_path)
    event(c, "use")
    assert stage(c, "forward") == "use"
    event(c, "reset")
    assert stage(c, "forward") == "use"
    c.stop()


def test_back_allowed_when_configured(tmp_path):
    c = start(tmp_path)
    event(c, "use")
    event(c, "reset")
    assert stage(c, "both") == "awareness"
    c.stop()


def test_listed_moves_only(tmp_path):
    c = start(tmp_path)
    event(c, "close")                   # new -> closed is not listed
    assert stage(c, "listed") == "new"
    event(c, "use")                     # new -> active is
    assert stage(c, "listed") == "active"
    event(c, "reset")                   # active -> new is not
    assert stage(c, "listed") == "active"
    event(c, "close")                   # active -> closed is
    assert stage(c, "listed") == "closed"
    c.stop()


def test_history_records_why(tmp_path):
    c = start(tmp_path)
    event(c, "use")
    rows = c.store.query(
        "SELECT h.program, h.from_stage, h.to_stage, h.rule, h.event_seq"
        " FROM stage_history h JOIN identities i ON i.profile = h.profile"
        " WHERE i.kind = 'email' AND h.program = 'forward' ORDER BY h.id")
    assert rows == [("forward", None, "awareness", None, 1),
                    ("forward", "awareness", "use", "fwd-use", 1)]
    c.stop()


def test_moves_must_name_stages(tmp_path):
    conf = tmp_path / "bad.conf"
    conf.write_text('plugin_dir = "%s";\nstore: { plugin = "memory"; };\n'
                    'programs: { p: { stages = [ "a", "b" ];\n'
                    '  moves = { a = [ "c" ]; }; }; };\n' % PLUGINS)
    code, out, err = run_crier("check", "-c", str(conf))
    assert code == 2
    assert 'bad.conf:4: programs.p.moves: a lists "c"' in err
