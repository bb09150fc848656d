-- Topic subscriptions, stored objects and the job tally of a rule.

CREATE OR REPLACE FUNCTION crier_subscription_json(s subscriptions)
RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
  SELECT jsonb_build_object('profile', s.profile, 'topic', s.topic,
                            'channel', s.channel, 'status', s.status,
                            'origin', s.origin, 'created', s.created,
                            'updated', s.updated)
$$;

-- {"profile", "topic", "channel", "status", "origin", "time"} writes one
-- subscription. A write keeps the row's first `created`.
CREATE OR REPLACE FUNCTION crier_subscription_set(request json)
RETURNS json LANGUAGE sql AS $$
  INSERT INTO subscriptions AS s (profile, topic, channel, status, origin,
                                  created, updated)
    VALUES (request->>'profile', request->>'topic', request->>'channel',
            request->>'status', request->>'origin',
            (request->>'time')::bigint, (request->>'time')::bigint)
    ON CONFLICT (profile, topic, channel) DO UPDATE SET
      status = excluded.status, origin = excluded.origin,
      updated = excluded.updated
    RETURNING json_build_object('subscription', crier_subscription_json(s))
$$;

-- {"profile"} gives a profile's subscriptions by topic and channel;
-- {"topic", "channel", "after", "limit"} a page of a topic's subscribers
-- in profile id order. One row more than the page shows whether a next
-- page exists.
CREATE OR REPLACE FUNCTION crier_subscriptions_read(request json)
RETURNS json LANGUAGE plpgsql STABLE AS $$
DECLARE
  size bigint := coalesce((request->>'limit')::bigint, 100);
  page jsonb;
  more boolean;
BEGIN
  IF request->>'profile' IS NOT NULL THEN
    RETURN json_build_object('subscriptions', coalesce((
      SELECT jsonb_agg(crier_subscription_json(s)
                       ORDER BY s.topic, s.channel)
      FROM subscriptions s WHERE s.profile = request->>'profile'), '[]'),
      'next', NULL);
  END IF;
  SELECT coalesce(jsonb_agg(crier_subscription_json(s)
                            ORDER BY s.profile), '[]'),
         count(*) > size
    INTO page, more
    FROM (SELECT * FROM subscriptions
          WHERE topic = request->>'topic' AND channel = request->>'channel'
            AND profile > coalesce(request->>'after', '')
          ORDER BY profile LIMIT size + 1) s;
  IF more THEN
    page := page - (jsonb_array_length(page) - 1)::int;
  END IF;
  RETURN json_build_object('subscriptions', page, 'next',
    CASE WHEN more
         THEN page->(jsonb_array_length(page) - 1)->'profile' END);
END
$$;

-- Confirms every pending subscription of a profile on a channel, for a
-- commit batch's "confirmations". An entry with a "topic" confirms that
-- one subscription whatever its status, and makes it when missing.
CREATE OR REPLACE FUNCTION crier_confirmation_apply(c json) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  IF c->>'topic' IS NOT NULL THEN
    INSERT INTO subscriptions (profile, topic, channel, status, origin,
                               created, updated)
      VALUES (c->>'profile', c->>'topic', c->>'channel', 'confirmed',
              c->>'origin', (c->>'time')::bigint, (c->>'time')::bigint)
      ON CONFLICT (profile, topic, channel) DO UPDATE SET
        status = excluded.status, origin = excluded.origin,
        updated = excluded.updated;
    RETURN;
  END IF;
  UPDATE subscriptions SET status = 'confirmed', origin = c->>'origin',
                           updated = (c->>'time')::bigint
    WHERE profile = c->>'profile' AND channel = c->>'channel'
      AND status = 'pending';
END
$$;

-- {"kind", "id", "body"} stores the body, replacing a stored one.
CREATE OR REPLACE FUNCTION crier_object_put(request json) RETURNS json
LANGUAGE sql AS $$
  INSERT INTO objects (kind, id, body)
    VALUES (request->>'kind', request->>'id', (request->'body')::text)
    ON CONFLICT (kind, id) DO UPDATE SET body = excluded.body;
  SELECT '{}'::json
$$;

-- {"kind", "id"} reads the objects of a kind in id order, or the one
-- named by "id".
CREATE OR REPLACE FUNCTION crier_objects_read(request json) RETURNS json
LANGUAGE sql STABLE AS $$
  SELECT json_build_object('objects', coalesce(json_agg(
           json_build_object('id', id, 'body', body::json) ORDER BY id),
           '[]'))
  FROM objects
  WHERE kind = request->>'kind'
    AND (request->>'id' IS NULL OR id = request->>'id')
$$;

-- {"rule"} counts the rule's jobs by state and the suppressed ones by
-- reason, and finds the highest key of the form "<rule>/..." through
-- the unique index on key ('0' is the character after '/').
CREATE OR REPLACE FUNCTION crier_jobs_tally(request json) RETURNS json
LANGUAGE sql STABLE AS $$
  SELECT json_build_object(
    'states', coalesce((
      SELECT json_object_agg(state, n)
      FROM (SELECT state, count(*) AS n FROM jobs
            WHERE rule = request->>'rule' GROUP BY state) s), '{}'),
    'reasons', coalesce((
      SELECT json_object_agg(reason, n)
      FROM (SELECT coalesce(error, 'unknown') AS reason, count(*) AS n
            FROM jobs
            WHERE rule = request->>'rule' AND state = 'suppressed'
            GROUP BY 1) r), '{}'),
    'last_key', (SELECT max(key) FROM jobs
                 WHERE key > (request->>'rule') || '/'
                   AND key < (request->>'rule') || '0'))
$$;
