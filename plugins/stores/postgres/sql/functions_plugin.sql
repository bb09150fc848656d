-- Calls that the plugin itself makes: group commit and the schema status.

-- Runs [{"op", "request"}, ...] in order, each in a subtransaction, and
-- returns one {"result": ...} or {"error": SQLSTATE, "message": text}
-- per entry, so a failed mutation undoes only itself. `op` names one of
-- the crier_ functions; the plugin sends only names from its own list.
CREATE OR REPLACE FUNCTION crier_group(requests json) RETURNS json
LANGUAGE plpgsql AS $$
DECLARE
  entry json;
  result json;
  replies json[] := '{}';
BEGIN
  -- A group that may write events takes the events lock before any row
  -- lock, as every single call does, and then the cap locks of its
  -- capped marks in key order, so groups on two nodes never wait for each
  -- other in a cycle.
  IF EXISTS (SELECT 1 FROM json_array_elements(requests) AS r
             WHERE r->>'op' IN ('append', 'commit', 'schedules_advance'))
  THEN
    PERFORM crier_events_lock();
  END IF;
  PERFORM crier_cap_locks(requests);
  FOR entry IN SELECT * FROM json_array_elements(requests) LOOP
    BEGIN
      EXECUTE format('SELECT %I($1)', 'crier_' || (entry->>'op'))
        INTO result USING entry->'request';
      replies := replies || json_build_object('result', result);
    EXCEPTION WHEN OTHERS THEN
      replies := replies || json_build_object('error', SQLSTATE,
                                              'message', SQLERRM);
    END;
  END LOOP;
  RETURN to_json(replies);
END
$$;

-- {"found", "latest"} from the plugin gives the schema_status result.
CREATE OR REPLACE FUNCTION crier_schema_status(request json) RETURNS json
LANGUAGE sql STABLE AS $$
  SELECT json_build_object('store', 'postgres',
                           'version', (SELECT version
                                       FROM crier_schema_version),
                           'latest', request->'latest',
                           'found', request->'found')
$$;
