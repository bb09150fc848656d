-- Events and cursors.

-- Serializes the transactions that insert events, so that seq values
-- commit in increasing order: a reader that has seen seq N never later
-- finds a new event below N, even with several nodes appending at once.
-- The lock ends with the transaction. A transaction takes it before any
-- row lock (see crier_group and crier_commit), so it never closes a
-- cycle of waits.
CREATE OR REPLACE FUNCTION crier_events_lock() RETURNS void
LANGUAGE sql AS $$
  SELECT pg_advisory_xact_lock(x'637269657201'::bigint)
$$;

-- Appends [{source, id, type, time, received, body}, ...] and counts the
-- new events and those whose (source, id) was already stored or came
-- earlier in the same batch.
CREATE OR REPLACE FUNCTION crier_append(request json) RETURNS json
LANGUAGE plpgsql AS $$
DECLARE
  e json;
  inserted integer;
  accepted bigint := 0;
  duplicates bigint := 0;
BEGIN
  PERFORM crier_events_lock();
  FOR e IN SELECT * FROM json_array_elements(request) LOOP
    INSERT INTO events (source, ext_id, type, time_ms, received_ms, body)
      VALUES (e->>'source', e->>'id', e->>'type', (e->>'time')::bigint,
              (e->>'received')::bigint, e->>'body')
      ON CONFLICT DO NOTHING;
    GET DIAGNOSTICS inserted = ROW_COUNT;
    IF inserted > 0 THEN
      accepted := accepted + 1;
    ELSE
      duplicates := duplicates + 1;
    END IF;
  END LOOP;
  RETURN json_build_object('accepted', accepted, 'duplicates', duplicates);
END
$$;

-- Returns the stored event `seq` in the form of events_read.
CREATE OR REPLACE FUNCTION crier_event_json(e events) RETURNS json
LANGUAGE sql STABLE AS $$
  SELECT json_build_object('seq', e.seq, 'source', e.source, 'id', e.ext_id,
                           'type', e.type, 'time', e.time_ms,
                           'event', e.body::json)
$$;

-- {"after", "limit"} gives {"events": [...]} in seq order.
CREATE OR REPLACE FUNCTION crier_events_read(request json) RETURNS json
LANGUAGE sql STABLE AS $$
  SELECT json_build_object('events', coalesce(json_agg(
           crier_event_json(e) ORDER BY e.seq), '[]'))
  FROM (SELECT * FROM events WHERE seq > (request->>'after')::bigint
        ORDER BY seq LIMIT (request->>'limit')::bigint) e
$$;

-- {"name"} gives {"value"}, 0 for a cursor never written.
CREATE OR REPLACE FUNCTION crier_cursor_get(request json) RETURNS json
LANGUAGE sql STABLE AS $$
  SELECT json_build_object('value', coalesce(
           (SELECT value FROM cursors WHERE name = request->>'name'), 0))
$$;
