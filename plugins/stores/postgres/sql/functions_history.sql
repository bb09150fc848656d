-- Merges, erasure and expiry.

-- Gives `into_text` the more restrictive consent of the two maps per
-- channel kind: revoked over granted over anything else, and between
-- entries of one rank the later.
CREATE OR REPLACE FUNCTION crier_consent_merge(into_text text,
                                               from_text text) RETURNS text
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
  target jsonb := into_text::jsonb;
  kind text;
  entry jsonb;
  current jsonb;
BEGIN
  FOR kind, entry IN SELECT * FROM jsonb_each(from_text::jsonb) LOOP
    current := target->kind;
    IF crier_consent_rank(entry) > 0
       AND (crier_consent_rank(entry) > crier_consent_rank(current)
            OR (crier_consent_rank(entry) = crier_consent_rank(current)
                AND (entry->>'time')::bigint
                    > coalesce((current->>'time')::bigint, 0))) THEN
      target := target || jsonb_build_object(kind, entry);
    END IF;
  END LOOP;
  RETURN target::text;
END
$$;

CREATE OR REPLACE FUNCTION crier_consent_rank(entry jsonb) RETURNS integer
LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE entry->>'state' WHEN 'revoked' THEN 2 WHEN 'granted' THEN 1
         ELSE 0 END
$$;

-- Gives `into_text` the related records of `from_text` under the ids it
-- lacks, for dependents and cases alike.
CREATE OR REPLACE FUNCTION crier_related_merge(into_text text,
                                               from_text text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
  SELECT jsonb_build_object(
    'dependents', coalesce(f->'dependents', '{}')
                  || coalesce(i->'dependents', '{}'),
    'cases', coalesce(f->'cases', '{}') || coalesce(i->'cases', '{}'))::text
  FROM (SELECT CASE WHEN jsonb_typeof(into_text::jsonb) = 'object'
                    THEN into_text::jsonb ELSE '{}' END AS i,
               CASE WHEN jsonb_typeof(from_text::jsonb) = 'object'
                    THEN from_text::jsonb ELSE '{}' END AS f) m
$$;

-- Ranks a subscription status for a merge: confirmed, then pending, then
-- unsubscribed.
CREATE OR REPLACE FUNCTION crier_subscription_rank(status text)
RETURNS integer LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE status WHEN 'confirmed' THEN 2 WHEN 'pending' THEN 1
                     ELSE 0 END
$$;

-- Merges profile `from` into `into`; see "The pipeline batch" in
-- docs/internals/store.md. A missing `from` skips the merge and returns
-- false; a missing `into` raises CR404.
CREATE OR REPLACE FUNCTION crier_merge_apply(m json) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
  source_id text := m->>'from';
  target_id text := m->>'into';
  source profiles;
  target profiles;
  identity record;
BEGIN
  SELECT * INTO source FROM profiles WHERE id = source_id FOR UPDATE;
  IF NOT FOUND THEN
    RETURN false;
  END IF;
  SELECT * INTO target FROM profiles WHERE id = target_id FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'merge into missing profile %', target_id
      USING ERRCODE = 'CR404';
  END IF;
  -- The identities of `from` go after those of `into`, in their order.
  FOR identity IN SELECT kind, value FROM identities
                  WHERE profile = source_id ORDER BY added LOOP
    UPDATE identities SET profile = target_id,
                          added = nextval(pg_get_serial_sequence(
                                            'identities', 'added'))
      WHERE kind = identity.kind AND value = identity.value;
  END LOOP;
  UPDATE events SET profile = target_id WHERE profile = source_id;
  UPDATE stage_history SET profile = target_id WHERE profile = source_id;
  UPDATE jobs SET profile = target_id WHERE profile = source_id;
  INSERT INTO stages (profile, program, stage, since)
    SELECT target_id, program, stage, since FROM stages
    WHERE profile = source_id ON CONFLICT DO NOTHING;
  DELETE FROM stages WHERE profile = source_id;
  -- The subscriptions of `from` go to `into`. Where `into` has a row for
  -- the same (topic, channel), it takes the status, origin and update
  -- time of `from` only when that status ranks higher: confirmed, then
  -- pending, then unsubscribed.
  INSERT INTO subscriptions AS s
      (profile, topic, channel, status, origin, created, updated)
    SELECT target_id, topic, channel, status, origin, created, updated
    FROM subscriptions WHERE profile = source_id
    ON CONFLICT (profile, topic, channel) DO UPDATE SET
      status = excluded.status, origin = excluded.origin,
      updated = excluded.updated
    WHERE crier_subscription_rank(excluded.status)
          > crier_subscription_rank(s.status);
  DELETE FROM subscriptions WHERE profile = source_id;
  -- `into` keeps its own memberships, and the pipeline evaluates the
  -- merged profile again.
  DELETE FROM segment_members WHERE profile = source_id;
  DELETE FROM schedules WHERE profile = source_id;
  DELETE FROM journeys WHERE profile = source_id;
  UPDATE profiles SET
      attributes = (source.attributes::jsonb
                    || target.attributes::jsonb)::text,
      consent = crier_consent_merge(target.consent, source.consent),
      related = crier_related_merge(target.related, source.related)
    WHERE id = target_id;
  DELETE FROM profiles WHERE id = source_id;
  INSERT INTO merges (from_id, into_id, time_ms)
    VALUES (source_id, target_id, (m->>'time')::bigint)
    ON CONFLICT (from_id) DO UPDATE SET into_id = excluded.into_id,
      time_ms = excluded.time_ms;
  RETURN true;
END
$$;

-- The body that replaces an erased event's:
-- {"type", "time": "YYYY-MM-DDTHH:MM:SS.mmmZ", "erased": true}.
CREATE OR REPLACE FUNCTION crier_erased_body(type text, time_ms bigint)
RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT json_build_object(
    'type', type,
    'time', to_char(to_timestamp(time_ms / 1000) AT TIME ZONE 'UTC',
                    'YYYY-MM-DD"T"HH24:MI:SS')
            || '.' || lpad((time_ms % 1000)::text, 3, '0') || 'Z',
    'erased', true)::text
$$;

-- {"id", "now", "cursor"} erases a profile; see profile_erase in
-- include/crier/store.h. Raises CR503 while the cursor is behind the
-- last stored event.
CREATE OR REPLACE FUNCTION crier_profile_erase(request json) RETURNS json
LANGUAGE plpgsql AS $$
DECLARE
  who text := request->>'id';
  now_ms bigint := (request->>'now')::bigint;
  events_count bigint;
  jobs_count bigint;
  suppressed bigint;
  target text;
BEGIN
  IF request->>'cursor' IS NOT NULL
     AND coalesce((SELECT max(seq) FROM events), 0)
         > coalesce((SELECT value FROM cursors
                     WHERE name = request->>'cursor'), 0) THEN
    RAISE EXCEPTION 'the cursor % is behind', request->>'cursor'
      USING ERRCODE = 'CR503';
  END IF;
  PERFORM 1 FROM profiles WHERE id = who FOR UPDATE;
  IF NOT FOUND THEN
    target := crier_merge_chain_end(who);
    IF target IS NULL THEN
      RETURN json_build_object('erased', false);
    END IF;
    RETURN json_build_object('erased', false, 'merged_into', target);
  END IF;

  UPDATE events SET body = crier_erased_body(type, time_ms),
                    ext_id = NULL, profile = NULL
    WHERE profile = who;
  GET DIAGNOSTICS events_count = ROW_COUNT;
  INSERT INTO report_messages (rule, template, channel, metric, day, count)
    SELECT rule, template, channel, 'suppressed:erased',
           now_ms - now_ms % 86400000, count(*) FROM jobs
    WHERE profile = who AND state IN ('planned', 'claimed', 'sending')
    GROUP BY rule, template, channel
    ON CONFLICT (rule, template, channel, metric, day)
    DO UPDATE SET count = report_messages.count + excluded.count;
  UPDATE jobs SET state = 'suppressed', error = 'erased',
                  last_error = 'erased', lease_until = NULL,
                  updated = now_ms
    WHERE profile = who AND state IN ('planned', 'claimed', 'sending');
  GET DIAGNOSTICS suppressed = ROW_COUNT;
  UPDATE job_attempts SET reply = 'erased'
    WHERE reply IS NOT NULL
      AND job IN (SELECT id FROM jobs WHERE profile = who);
  UPDATE jobs SET recipient = NULL, profile = NULL,
                  error = CASE WHEN error IS NULL THEN NULL
                               ELSE 'erased' END,
                  last_error = CASE WHEN last_error IS NULL THEN NULL
                                    ELSE 'erased' END,
                  updated = now_ms
    WHERE profile = who;
  GET DIAGNOSTICS jobs_count = ROW_COUNT;
  UPDATE stage_history SET profile = NULL WHERE profile = who;

  DELETE FROM stages WHERE profile = who;
  DELETE FROM segment_members WHERE profile = who;
  DELETE FROM subscriptions WHERE profile = who;
  DELETE FROM identities WHERE profile = who;
  DELETE FROM profiles WHERE id = who;
  DELETE FROM merges WHERE from_id IN (
    WITH RECURSIVE chain (id) AS (
      SELECT who COLLATE "C" UNION SELECT merges.from_id FROM merges
      JOIN chain ON merges.into_id = chain.id)
    SELECT id FROM chain);
  INSERT INTO erasures (time_ms) VALUES (now_ms);
  DELETE FROM schedules WHERE profile = who;
  DELETE FROM journeys WHERE profile = who;
  RETURN json_build_object('erased', true, 'events', events_count,
                           'jobs', jobs_count, 'suppressed', suppressed);
END
$$;

-- {"types", "prefixes", "before", "limit", "cursor"} deletes up to
-- `limit` events of those types that happened before `before`, never
-- one after the cursor.
CREATE OR REPLACE FUNCTION crier_events_expire(request json) RETURNS json
LANGUAGE plpgsql AS $$
DECLARE
  deleted bigint;
BEGIN
  DELETE FROM events WHERE seq IN (
    SELECT seq FROM events
    WHERE time_ms < (request->>'before')::bigint
      AND seq <= coalesce((SELECT value FROM cursors
                           WHERE name = request->>'cursor'), 0)
      AND (type IN (SELECT json_array_elements_text(
                      coalesce(request->'types', '[]')))
           OR EXISTS (SELECT 1 FROM json_array_elements_text(
                        coalesce(request->'prefixes', '[]')) AS p(prefix)
                      WHERE left(events.type, length(p.prefix))
                            = p.prefix))
    ORDER BY seq LIMIT (request->>'limit')::bigint);
  GET DIAGNOSTICS deleted = ROW_COUNT;
  RETURN json_build_object('deleted', deleted);
END
$$;
