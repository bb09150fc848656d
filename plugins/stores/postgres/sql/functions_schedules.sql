-- Schedule plans and journey places, claimed by the clock of each node.

-- Replaces the plan of one (source, profile) with the batch's rows. A row
-- whose basis is unchanged is kept as it is, so a row that fired stays
-- fired and a leased row keeps its lease.
CREATE OR REPLACE FUNCTION crier_schedule_plan_apply(plan json)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO schedules AS s (source, profile, schedule, record, basis,
                              date, zone, occurrence, due)
    SELECT plan->>'source', plan->>'profile', r->>'schedule',
           r->>'record', r->>'basis', r->>'date', r->>'zone',
           r->>'occurrence', (r->>'due')::bigint
    FROM json_array_elements(plan->'rows') AS r
    ON CONFLICT (source, profile, schedule, record) DO UPDATE SET
      basis = excluded.basis, date = excluded.date, zone = excluded.zone,
      occurrence = excluded.occurrence, due = excluded.due,
      lease_until = NULL
    WHERE s.basis <> excluded.basis;
  DELETE FROM schedules
    WHERE source = plan->>'source' AND profile = plan->>'profile'
      AND (schedule, record) NOT IN (
        SELECT r->>'schedule', r->>'record'
        FROM json_array_elements(plan->'rows') AS r);
END
$$;

-- {"source", "now", "limit", "lease_ms"} leases up to `limit` due rows,
-- oldest due first. Rows that another node is claiming at the same
-- moment are skipped, so no occurrence fires on two nodes.
CREATE OR REPLACE FUNCTION crier_schedules_claim(request json) RETURNS json
LANGUAGE plpgsql AS $$
DECLARE
  now_ms bigint := (request->>'now')::bigint;
  rows jsonb := '[]';
  s schedules;
BEGIN
  FOR s IN
    SELECT * FROM schedules
    WHERE source = request->>'source' AND due IS NOT NULL AND due <= now_ms
      AND (lease_until IS NULL OR lease_until <= now_ms)
    ORDER BY due, profile, schedule, record
    LIMIT (request->>'limit')::bigint
    FOR UPDATE SKIP LOCKED
  LOOP
    UPDATE schedules SET lease_until = now_ms
                                       + (request->>'lease_ms')::bigint
      WHERE source = s.source AND profile = s.profile
        AND schedule = s.schedule AND record = s.record;
    rows := rows || jsonb_build_array(jsonb_build_object(
      'schedule', s.schedule, 'profile', s.profile, 'record', s.record,
      'date', s.date, 'zone', s.zone, 'occurrence', s.occurrence,
      'due', s.due));
  END LOOP;
  RETURN json_build_object('rows', rows);
END
$$;

-- Moves fired rows to their next occurrence, or marks them done, when
-- they are still due with the occurrence that fired, and appends the
-- events of the firing. A row's own "event" is appended only when the row
-- moved: when two nodes fired one row (a claim whose lease ended during
-- the firing), the second advance waits for the first's events lock,
-- finds the row moved on and records nothing. That lock comes before any
-- row lock, as in every transaction that appends events. The events stay
-- json, not jsonb, so each body is stored as the core wrote it.
CREATE OR REPLACE FUNCTION crier_schedules_advance(request json)
RETURNS json LANGUAGE plpgsql AS $$
DECLARE
  r json;
  changed bigint;
  advanced bigint := 0;
  moved_events json[] := '{}';
  appended bigint;
BEGIN
  PERFORM crier_events_lock();
  FOR r IN SELECT * FROM json_array_elements(request->'rows') LOOP
    UPDATE schedules SET due = (r->>'due')::bigint,
                         occurrence = coalesce(r->>'next', occurrence),
                         lease_until = NULL
      WHERE source = request->>'source' AND profile = r->>'profile'
        AND schedule = r->>'schedule' AND record = r->>'record'
        AND occurrence = r->>'occurrence' AND due IS NOT NULL;
    GET DIAGNOSTICS changed = ROW_COUNT;
    advanced := advanced + changed;
    IF changed > 0 AND json_typeof(r->'event') = 'object' THEN
      moved_events := moved_events || (r->'event');
    END IF;
  END LOOP;
  appended := crier_batch_events_append(array_to_json(moved_events))
              + crier_batch_events_append(request->'events');
  RETURN json_build_object('advanced', advanced, 'appended', appended);
END
$$;

-- Writes one journey place of a commit batch, with the items of a digest
-- window. A "wake" row only clears the due time of an active row that is
-- still at that step and due.
CREATE OR REPLACE FUNCTION crier_journey_row_apply(j json) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  IF coalesce((j->>'wake')::boolean, false) THEN
    UPDATE journeys SET due = NULL, lease_until = NULL
      WHERE journey = j->>'journey' AND profile = j->>'profile'
        AND entry = (j->>'entry')::bigint AND step = j->>'step'
        AND due = (j->>'due')::bigint AND state = 'active';
    RETURN;
  END IF;
  INSERT INTO journeys (journey, profile, entry, step, state, due, since,
                        updated, items)
    VALUES (j->>'journey', j->>'profile', (j->>'entry')::bigint,
            j->>'step', j->>'state', (j->>'due')::bigint,
            (j->>'since')::bigint, (j->>'updated')::bigint,
            CASE WHEN json_typeof(j->'items') = 'array'
                 THEN (j->'items')::text END)
    ON CONFLICT (journey, profile) DO UPDATE SET entry = excluded.entry,
      step = excluded.step, state = excluded.state, due = excluded.due,
      since = excluded.since, updated = excluded.updated,
      items = excluded.items, lease_until = NULL;
END
$$;

CREATE OR REPLACE FUNCTION crier_journey_json(j journeys) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
  SELECT jsonb_build_object('journey', j.journey, 'profile', j.profile,
                            'entry', j.entry, 'step', j.step,
                            'state', j.state, 'since', j.since,
                            'updated', j.updated, 'due', j.due)
    || CASE WHEN j.items IS NOT NULL
            THEN jsonb_build_object('items', j.items::jsonb)
            ELSE '{}' END
$$;

-- {"profiles": [...]} gives each profile's journey rows in journey order.
CREATE OR REPLACE FUNCTION crier_journeys_read(request json) RETURNS json
LANGUAGE sql STABLE AS $$
  SELECT json_build_object('journeys', coalesce(json_object_agg(p.id,
    coalesce((SELECT jsonb_agg(crier_journey_json(j) ORDER BY j.journey)
              FROM journeys j WHERE j.profile = p.id), '[]')), '{}'))
  FROM (SELECT DISTINCT value AS id
        FROM json_array_elements_text(request->'profiles')) p
$$;

-- {"now", "limit", "lease_ms"} reads the active rows due by `now`, oldest
-- first, and "next", the earliest due after `now` (or null), so that the
-- clock can wake for it between its whole-second reads. With "lease_ms"
-- the rows are claimed: each one read is leased until now + lease_ms,
-- and rows leased by another read, or locked by a claim at the same
-- moment (SKIP LOCKED), are left out, so two nodes never wake one row.
CREATE OR REPLACE FUNCTION crier_journeys_due(request json) RETURNS json
LANGUAGE plpgsql AS $$
DECLARE
  now_ms bigint := (request->>'now')::bigint;
  lease bigint := (request->>'lease_ms')::bigint;
  rows jsonb;
BEGIN
  IF lease IS NULL THEN
    SELECT coalesce(jsonb_agg(crier_journey_json(j)
                              ORDER BY j.due, j.journey, j.profile), '[]')
      INTO rows
      FROM (SELECT * FROM journeys
            WHERE due IS NOT NULL AND due <= now_ms AND state = 'active'
            ORDER BY due, journey, profile
            LIMIT (request->>'limit')::bigint) j;
  ELSE
    WITH claimed AS (
      SELECT journey, profile FROM journeys
      WHERE due IS NOT NULL AND due <= now_ms AND state = 'active'
        AND (lease_until IS NULL OR lease_until <= now_ms)
      ORDER BY due, journey, profile
      LIMIT (request->>'limit')::bigint
      FOR UPDATE SKIP LOCKED),
    leased AS (
      UPDATE journeys j SET lease_until = now_ms + lease
        FROM claimed c
        WHERE j.journey = c.journey AND j.profile = c.profile
        RETURNING j AS place)
    SELECT coalesce(jsonb_agg(crier_journey_json(place)
                              ORDER BY (place).due, (place).journey,
                                       (place).profile), '[]')
      INTO rows FROM leased;
  END IF;
  RETURN json_build_object('rows', rows, 'next',
    (SELECT min(due) FROM journeys
     WHERE due IS NOT NULL AND due > now_ms AND state = 'active'));
END
$$;
