-- The pipeline batch.

-- Appends the events of a commit batch or a schedule firing, which have
-- no sender's id and so are never duplicates. Returns how many.
CREATE OR REPLACE FUNCTION crier_batch_events_append(list json)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
  appended bigint := 0;
BEGIN
  IF json_typeof(list) <> 'array' OR json_array_length(list) = 0 THEN
    RETURN 0;
  END IF;
  PERFORM crier_events_lock();
  INSERT INTO events (source, type, time_ms, received_ms, body)
    SELECT e->>'source', e->>'type', (e->>'time')::bigint,
           (e->>'time')::bigint, (e->'event')::text
    FROM json_array_elements(list) WITH ORDINALITY AS r(e, n)
    ORDER BY n;
  GET DIAGNOSTICS appended = ROW_COUNT;
  RETURN appended;
END
$$;

-- Applies one pipeline batch in the transaction of the call, in the
-- order merges, profiles, schedules, journeys, stages, segments,
-- confirmations, events, jobs, goals, engagements, links, cursor
-- (docs/internals/store.md). A
-- failed part, such as a merge into a missing profile (CR404), undoes
-- the whole batch.
CREATE OR REPLACE FUNCTION crier_commit(batch json) RETURNS json
LANGUAGE plpgsql AS $$
DECLARE
  item json;
  planned bigint := 0;
  total bigint := 0;
  merged bigint := 0;
  appended bigint;
  stored bigint;
BEGIN
  -- A batch read at another cursor value than the stored one was
  -- committed by another node already (CR409). The row lock on the
  -- cursor, taken first, makes the pipelines of several nodes commit one
  -- at a time.
  IF json_typeof(batch->'cursor'->'from') = 'number' THEN
    -- The events lock comes before the cursor's row lock, in every
    -- transaction, so that two nodes never deadlock on the pair.
    PERFORM crier_events_lock();
    INSERT INTO cursors (name, value) VALUES (batch->'cursor'->>'name', 0)
      ON CONFLICT DO NOTHING;
    SELECT value INTO stored FROM cursors
      WHERE name = batch->'cursor'->>'name' FOR UPDATE;
    IF stored <> (batch->'cursor'->>'from')::bigint THEN
      RAISE EXCEPTION 'cursor % is at %, not %', batch->'cursor'->>'name',
        stored, batch->'cursor'->>'from' USING ERRCODE = 'CR409';
    END IF;
  END IF;
  FOR item IN SELECT * FROM json_array_elements(
                coalesce(batch->'merges', '[]')) LOOP
    IF crier_merge_apply(item) THEN
      merged := merged + 1;
    END IF;
  END LOOP;
  FOR item IN SELECT * FROM json_array_elements(
                coalesce(batch->'profiles', '[]')) LOOP
    PERFORM crier_profile_write(item);
  END LOOP;
  FOR item IN SELECT * FROM json_array_elements(
                coalesce(batch->'schedules', '[]')) LOOP
    PERFORM crier_schedule_plan_apply(item);
  END LOOP;
  FOR item IN SELECT * FROM json_array_elements(
                coalesce(batch->'journeys', '[]')) LOOP
    PERFORM crier_journey_row_apply(item);
  END LOOP;
  FOR item IN SELECT * FROM json_array_elements(
                coalesce(batch->'stages', '[]')) LOOP
    PERFORM crier_report_stage_move(item);
    PERFORM crier_stage_move(item);
  END LOOP;
  FOR item IN SELECT * FROM json_array_elements(
                coalesce(batch->'segments', '[]')) LOOP
    PERFORM crier_segment_apply(item);
  END LOOP;
  FOR item IN SELECT * FROM json_array_elements(
                coalesce(batch->'confirmations', '[]')) LOOP
    PERFORM crier_confirmation_apply(item);
  END LOOP;
  appended := crier_batch_events_append(batch->'events');
  FOR item IN SELECT * FROM json_array_elements(
                coalesce(batch->'jobs', '[]')) LOOP
    total := total + 1;
    IF crier_job_insert(item) THEN
      planned := planned + 1;
    END IF;
  END LOOP;
  -- Goals and engagements come after the jobs, so a goal can credit a
  -- job sent before this batch and an open can find any stored job.
  FOR item IN SELECT * FROM json_array_elements(
                coalesce(batch->'goals', '[]')) LOOP
    PERFORM crier_goal_hit_apply(item);
  END LOOP;
  FOR item IN SELECT * FROM json_array_elements(
                coalesce(batch->'engagements', '[]')) LOOP
    PERFORM crier_engagement_apply(item);
  END LOOP;
  FOR item IN SELECT * FROM json_array_elements(
                coalesce(batch->'links', '[]')) LOOP
    UPDATE events SET profile = item->>'profile'
      WHERE seq = (item->>'seq')::bigint;
  END LOOP;
  IF json_typeof(batch->'cursor') = 'object' THEN
    INSERT INTO cursors (name, value)
      VALUES (batch->'cursor'->>'name',
              (batch->'cursor'->>'value')::bigint)
      ON CONFLICT (name) DO UPDATE SET value = excluded.value;
  END IF;
  RETURN json_build_object('planned', planned, 'existing', total - planned,
                           'merged', merged, 'appended', appended);
END
$$;
