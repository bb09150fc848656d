-- Pacing slots of shared destinations. The rules match the stores that
-- one process owns (common/pace.c): drop the key's slots that count
-- toward neither limit, then check max_in_flight, then the rate. Times
-- are the callers' milliseconds ("now"), as in every other operation.

-- {"key", "now", "max_per_second", "max_in_flight", "lease_ms"} gives
-- {"slot": id, "wait_ms": 0}, or {"slot": null, "wait_ms": N}.
CREATE OR REPLACE FUNCTION crier_pace_acquire(request json) RETURNS json
LANGUAGE plpgsql AS $$
DECLARE
  pace_key text := request->>'key';
  now_ms bigint := (request->>'now')::bigint;
  per_second integer := (request->>'max_per_second')::integer;
  in_flight integer := (request->>'max_in_flight')::integer;
  held integer;
  nth_start bigint;
  slot bigint;
BEGIN
  -- The key's row serializes acquires on the key across nodes. Under
  -- READ COMMITTED each later statement takes a new snapshot, so once
  -- the lock is granted the counts below see the slot that the previous
  -- holder of the lock inserted.
  INSERT INTO pace_keys VALUES (pace_key) ON CONFLICT DO NOTHING;
  PERFORM 1 FROM pace_keys WHERE key = pace_key FOR UPDATE;

  DELETE FROM pace_slots
   WHERE key = pace_key AND started <= now_ms - 1000
     AND (released OR lease_until <= now_ms);

  SELECT count(*) INTO held FROM pace_slots
   WHERE key = pace_key AND NOT released AND lease_until > now_ms;
  IF held >= in_flight THEN
    RETURN json_build_object('slot', NULL, 'wait_ms', 0);
  END IF;

  -- The per_second-th newest start in the window decides: the next slot
  -- may start once it is a whole window old.
  SELECT started INTO nth_start FROM pace_slots
   WHERE key = pace_key AND started > now_ms - 1000
   ORDER BY started DESC OFFSET per_second - 1 LIMIT 1;
  IF FOUND THEN
    RETURN json_build_object('slot', NULL,
                             'wait_ms', nth_start + 1000 - now_ms);
  END IF;

  INSERT INTO pace_slots (key, started, lease_until)
  VALUES (pace_key, now_ms, now_ms + (request->>'lease_ms')::bigint)
  RETURNING id INTO slot;
  RETURN json_build_object('slot', slot, 'wait_ms', 0);
END
$$;

-- {"key", "slot"} gives {"released": true}, or false when the slot was
-- released already or dropped after its lease ended.
CREATE OR REPLACE FUNCTION crier_pace_release(request json) RETURNS json
LANGUAGE sql AS $$
  WITH ended AS (
    UPDATE pace_slots SET released = true
     WHERE id = (request->>'slot')::bigint AND key = request->>'key'
       AND NOT released
    RETURNING id)
  SELECT json_build_object('released', EXISTS (SELECT 1 FROM ended))
$$;
