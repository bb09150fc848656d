-- The pipeline batch.

-- Applies one pipeline batch in the transaction of the call: profiles,
-- stages, segment changes, appended events, jobs, links and the cursor.
-- Raises CR501 for the parts this store does not apply yet (merges,
-- schedules, journeys, goals, engagements).
CREATE OR REPLACE FUNCTION crier_commit(batch json) RETURNS json
LANGUAGE plpgsql AS $$
DECLARE
  item json;
  part text;
  planned bigint := 0;
  total bigint := 0;
  appended bigint := 0;
BEGIN
  FOREACH part IN ARRAY ARRAY['merges', 'schedules', 'journeys', 'goals',
                              'engagements'] LOOP
    IF json_typeof(batch->part) = 'array'
       AND json_array_length(batch->part) > 0 THEN
      RAISE EXCEPTION 'the postgres store cannot apply "%" yet', part
        USING ERRCODE = 'CR501';
    END IF;
  END LOOP;
  FOR item IN SELECT * FROM json_array_elements(
                coalesce(batch->'profiles', '[]')) LOOP
    PERFORM crier_profile_write(item);
  END LOOP;
  FOR item IN SELECT * FROM json_array_elements(
                coalesce(batch->'stages', '[]')) LOOP
    PERFORM crier_stage_move(item);
  END LOOP;
  FOR item IN SELECT * FROM json_array_elements(
                coalesce(batch->'segments', '[]')) LOOP
    PERFORM crier_segment_apply(item);
  END LOOP;
  IF json_typeof(batch->'events') = 'array'
     AND json_array_length(batch->'events') > 0 THEN
    PERFORM crier_events_lock();
    INSERT INTO events (source, type, time_ms, received_ms, body)
      SELECT e->>'source', e->>'type', (e->>'time')::bigint,
             (e->>'time')::bigint, (e->'event')::text
      FROM json_array_elements(batch->'events') WITH ORDINALITY AS r(e, n)
      ORDER BY n;
    GET DIAGNOSTICS appended = ROW_COUNT;
  END IF;
  FOR item IN SELECT * FROM json_array_elements(
                coalesce(batch->'jobs', '[]')) LOOP
    total := total + 1;
    IF crier_job_insert(item) THEN
      planned := planned + 1;
    END IF;
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
                           'merged', 0, 'appended', appended);
END
$$;
