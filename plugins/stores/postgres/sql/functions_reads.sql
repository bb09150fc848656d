-- Reads for the admin pages and the rules: segments, profile pages,
-- recent events and timelines.

-- {"segment"} gives {"count"}.
CREATE OR REPLACE FUNCTION crier_segment_count(request json) RETURNS json
LANGUAGE sql STABLE AS $$
  SELECT json_build_object('count', count(*)) FROM segment_members
  WHERE segment = request->>'segment'
$$;

-- {"segment", "after", "limit"} gives a page of members in profile id
-- order; "next" is the last profile of a full page that has a next one.
CREATE OR REPLACE FUNCTION crier_segment_members(request json) RETURNS json
LANGUAGE plpgsql STABLE AS $$
DECLARE
  size bigint := coalesce((request->>'limit')::bigint, 100);
  rows jsonb;
  more boolean;
BEGIN
  SELECT coalesce(jsonb_agg(jsonb_build_object('profile', profile,
                                               'since', since)
                            ORDER BY profile), '[]')
    INTO rows
    FROM (SELECT profile, since FROM segment_members
          WHERE segment = request->>'segment'
            AND profile > coalesce(request->>'after', '')
          ORDER BY profile LIMIT size + 1) m;
  more := jsonb_array_length(rows) > size;
  IF more THEN
    rows := rows - (-1);
  END IF;
  RETURN json_build_object('members', rows, 'next',
    CASE WHEN more THEN rows->(jsonb_array_length(rows) - 1)->>'profile'
    END);
END
$$;

-- {"after", "limit"} gives a page of profiles in id order, in the form
-- of profiles_load.
CREATE OR REPLACE FUNCTION crier_profiles_scan(request json) RETURNS json
LANGUAGE plpgsql STABLE AS $$
DECLARE
  size bigint := coalesce((request->>'limit')::bigint, 100);
  ids text[];
BEGIN
  SELECT array_agg(id ORDER BY id) INTO ids
    FROM (SELECT id FROM profiles
          WHERE id > coalesce(request->>'after', '')
          ORDER BY id LIMIT size + 1) p;
  ids := coalesce(ids, '{}');
  RETURN json_build_object(
    'profiles', coalesce((SELECT json_agg(crier_profile_json(id, true)
                                          ORDER BY n)
                          FROM unnest(ids[1:size]) WITH ORDINALITY
                               AS u(id, n)), '[]'),
    'next', CASE WHEN cardinality(ids) > size THEN ids[size] END);
END
$$;

-- {"profiles", "since", "limit"} gives each profile's events from
-- `since` on, newest first, at most `limit` each.
CREATE OR REPLACE FUNCTION crier_events_recent(request json) RETURNS json
LANGUAGE sql STABLE AS $$
  SELECT json_build_object('profiles', coalesce(json_object_agg(p.id,
    coalesce((SELECT json_agg(crier_event_json(e)
                              ORDER BY e.time_ms DESC, e.seq DESC)
              FROM (SELECT * FROM events
                    WHERE profile = p.id
                      AND time_ms >= (request->>'since')::bigint
                    ORDER BY time_ms DESC, seq DESC
                    LIMIT (request->>'limit')::bigint) e), '[]')), '{}'))
  FROM (SELECT DISTINCT value AS id
        FROM json_array_elements_text(request->'profiles')) p
$$;

-- {"profile", "limit", "before"} gives a page of the profile's history:
-- events, stage moves and messages, newest first. The cursor
-- "time:kind:id" is that of the last entry of a full page.
CREATE OR REPLACE FUNCTION crier_timeline(request json) RETURNS json
LANGUAGE plpgsql STABLE AS $$
DECLARE
  who text := request->>'profile';
  size bigint := least(coalesce((request->>'limit')::bigint, 50), 500);
  before text := request->>'before';
  b_time bigint := 9223372036854775807;
  b_kind integer := 3;
  b_id bigint := 9223372036854775807;
  entries jsonb := '[]';
  last_key text;
  r record;
  taken bigint := 0;
  more boolean := false;
BEGIN
  IF before IS NOT NULL THEN
    b_time := split_part(before, ':', 1)::bigint;
    b_kind := split_part(before, ':', 2)::integer;
    b_id := split_part(before, ':', 3)::bigint;
  END IF;
  FOR r IN
    SELECT * FROM (
      SELECT 2 AS kind, created AS time, id, jsonb_build_object(
               'kind', 'message', 'time', created, 'job', id, 'rule', rule,
               'channel', channel, 'state', state,
               'message_id', message_id, 'error', error) AS entry
      FROM jobs WHERE profile = who
        AND (created, 2, id) < (b_time, b_kind, b_id)
      UNION ALL
      SELECT 1, time_ms, id, jsonb_build_object(
               'kind', 'stage', 'time', time_ms, 'program', program,
               'from', from_stage, 'to', to_stage, 'rule', rule,
               'event_seq', CASE WHEN event_seq > 0 THEN event_seq END)
      FROM stage_history WHERE profile = who
        AND (time_ms, 1, id) < (b_time, b_kind, b_id)
      UNION ALL
      SELECT 0, time_ms, seq, jsonb_build_object(
               'kind', 'event', 'time', time_ms, 'seq', seq, 'type', type,
               'event', body::jsonb)
      FROM events WHERE profile = who
        AND (time_ms, 0, seq) < (b_time, b_kind, b_id)) t
    ORDER BY time DESC, kind DESC, id DESC
    LIMIT size + 1
  LOOP
    IF taken = size THEN
      more := true;
      EXIT;
    END IF;
    entries := entries || jsonb_build_array(r.entry);
    last_key := r.time || ':' || r.kind || ':' || r.id;
    taken := taken + 1;
  END LOOP;
  RETURN json_build_object('entries', entries, 'next',
    CASE WHEN more THEN last_key END);
END
$$;
