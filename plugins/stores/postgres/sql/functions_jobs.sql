-- Jobs: planning, claims under a lease, updates, lists and counts.

-- Adds one to a message counter of the reports, per UTC day.
CREATE OR REPLACE FUNCTION crier_report_count(j jobs, metric text,
                                              time_ms bigint) RETURNS void
LANGUAGE sql AS $$
  INSERT INTO report_messages (rule, template, channel, metric, day, count)
    VALUES (j.rule, j.template, j.channel, metric,
            time_ms - time_ms % 86400000, 1)
    ON CONFLICT (rule, template, channel, metric, day)
    DO UPDATE SET count = report_messages.count + 1
$$;

-- Inserts one planned job of a commit batch; a job whose key exists is
-- skipped. A holdout job is stored suppressed with the error "holdout",
-- and a job with "suppressed" (a bulletin's unconfirmed recipient) is
-- stored suppressed with that reason. Returns whether the job was new.
CREATE OR REPLACE FUNCTION crier_job_insert(j json) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
  reason text := coalesce(j->>'suppressed',
    CASE WHEN coalesce((j->>'holdout')::boolean, false)
         THEN 'holdout' END);
  due_ms bigint := (j->>'due')::bigint;
  stored jobs;
BEGIN
  INSERT INTO jobs (key, rule, program, profile, event_seq, channel,
                    template, recipient, state, generation, attempts, due,
                    created, updated, lane, priority, error, last_error)
    VALUES (j->>'key', j->>'rule', j->>'program', j->>'profile',
            (j->>'event_seq')::bigint, j->>'channel', j->>'template',
            j->>'to',
            CASE WHEN reason IS NOT NULL THEN 'suppressed' ELSE 'planned' END,
            0, 0, due_ms, coalesce((j->>'created')::bigint, due_ms),
            coalesce((j->>'created')::bigint, due_ms),
            coalesce((j->>'lane')::integer, 1),
            coalesce((j->>'priority')::bigint, 0), reason, reason)
    ON CONFLICT (key) DO NOTHING
    RETURNING * INTO stored;
  IF NOT FOUND THEN
    RETURN false;
  END IF;
  PERFORM crier_report_count(stored,
    CASE WHEN reason IS NOT NULL THEN 'suppressed:' || reason
         ELSE 'planned' END,
    stored.created);
  RETURN true;
END
$$;

-- Returns a job in the form of jobs_list.
CREATE OR REPLACE FUNCTION crier_job_listed(j jobs) RETURNS jsonb
LANGUAGE sql STABLE AS $$
  SELECT jsonb_strip_nulls(jsonb_build_object(
           'template_version', j.template_version,
           'delivery', CASE WHEN j.delivery_status IS NOT NULL THEN
             jsonb_build_object('status', j.delivery_status,
                                'code', j.delivery_code,
                                'text', j.delivery_text,
                                'time', j.delivery_time) END))
    || jsonb_build_object(
         'id', j.id, 'key', j.key, 'rule', j.rule, 'program', j.program,
         'channel', j.channel, 'template', j.template, 'to', j.recipient,
         'profile', j.profile, 'state', j.state,
         'generation', j.generation, 'attempts', j.attempts,
         'owner', j.owner, 'message_id', j.message_id,
         'provider_id', j.provider_id, 'error', j.error,
         'last_error', j.last_error, 'language', j.language,
         'due', j.due, 'created', j.created, 'updated', j.updated,
         'lane', j.lane, 'priority', j.priority,
         'event_seq', j.event_seq, 'lease_until', j.lease_until)
$$;

-- Returns true when the claim `request` takes `j` straight to `sending`:
-- its "send_now" lists the job's lane under the job's channel, and the
-- job has fewer attempts than "max_attempts" (when given).
CREATE OR REPLACE FUNCTION crier_job_sends_now(request json, j jobs)
RETURNS boolean LANGUAGE sql STABLE AS $$
  SELECT (coalesce((request->>'max_attempts')::bigint, 0) = 0
          OR j.attempts < (request->>'max_attempts')::bigint)
     AND json_typeof(request->'send_now'->j.channel) = 'array'
     AND EXISTS (SELECT 1 FROM json_array_elements_text(
                   request->'send_now'->j.channel) lane
                 WHERE lane::bigint = j.lane)
$$;

-- {"now", "limit", "lease_ms", "owner"} claims up to `limit` due jobs:
-- planned ones due by `now` and claimed or sending ones whose lease has
-- ended, in the order lane, due, priority (highest first), id, so every
-- due job of a lower lane goes before any of a higher one. A job that a
-- paused scope covers stays where it is until a resume. Rows that
-- another node is claiming at the same moment are skipped (SKIP LOCKED),
-- so two nodes never claim one job in one generation.
-- NOTE: all lanes are read in one query, because SKIP LOCKED cannot lock
-- through a UNION of one indexed read per lane as the sqlite store does.
-- Its speed behind a large backlog has not been measured.
CREATE OR REPLACE FUNCTION crier_jobs_claim(request json) RETURNS json
LANGUAGE plpgsql AS $$
DECLARE
  now_ms bigint := (request->>'now')::bigint;
  lease bigint := (request->>'lease_ms')::bigint;
  j jobs;
  was text;
  sends_now boolean;
  item jsonb;
  reason text;
  list jsonb[] := '{}';
BEGIN
  FOR j IN
    SELECT * FROM jobs
    WHERE ((state = 'planned' AND due <= now_ms)
           OR (state IN ('claimed', 'sending') AND lease_until <= now_ms))
      AND NOT EXISTS (SELECT 1 FROM pauses p
                      WHERE p.scope = 'all'
                         OR (p.scope = 'channel' AND p.name = jobs.channel)
                         OR (p.scope = 'program'
                             AND p.name = jobs.program))
    ORDER BY lane, due, priority DESC, id
    LIMIT (request->>'limit')::bigint
    FOR UPDATE SKIP LOCKED
  LOOP
    was := j.state;
    sends_now := crier_job_sends_now(request, j);
    UPDATE jobs SET state = CASE WHEN sends_now THEN 'sending'
                                 ELSE 'claimed' END,
                    attempts = attempts + CASE WHEN sends_now THEN 1
                                               ELSE 0 END,
                    generation = generation + 1,
                    lease_until = now_ms + lease,
                    owner = request->>'owner', updated = now_ms
      WHERE id = j.id RETURNING * INTO j;
    item := jsonb_build_object(
      'id', j.id, 'key', j.key, 'rule', j.rule, 'program', j.program,
      'channel', j.channel, 'template', j.template, 'to', j.recipient,
      'profile_id', j.profile, 'generation', j.generation,
      'attempts', j.attempts, 'state', j.state, 'was', was, 'due', j.due,
      'lane', j.lane, 'priority', j.priority, 'event_seq', j.event_seq,
      'lease_until', j.lease_until, 'message_id', j.message_id,
      -- NOTE: each job carries its own copy of the event, which crier
      -- then parses once per job. The memory and SQLite stores share one
      -- parse among a claim's jobs of one event (docs/KNOWN_LIMITS.md).
      'event', (SELECT body::jsonb FROM events WHERE seq = j.event_seq),
      'profile', CASE WHEN j.profile IS NOT NULL
                      THEN crier_profile_json(j.profile, false)::jsonb END);
    IF j.recipient IS NOT NULL THEN
      SELECT a.reason INTO reason FROM invalid_addresses a
        WHERE a.value = j.recipient LIMIT 1;
      IF FOUND THEN
        item := item || jsonb_build_object('address_invalid', reason);
      END IF;
    END IF;
    list := list || item;
  END LOOP;
  RETURN json_build_object('jobs', to_json(list));
END
$$;

-- Moves one claimed job to its next state; see the table in
-- docs/internals/store.md for the members each state reads. Raises CR404
-- for no such job and CR409 for a job not claimed or sending, or of
-- another generation.
CREATE OR REPLACE FUNCTION crier_job_update(request json) RETURNS json
LANGUAGE plpgsql AS $$
DECLARE
  target text := request->>'state';
  now_ms bigint := (request->>'now')::bigint;
  j jobs;
  error text;
  attempt json := request->'attempt';
  metric text;
BEGIN
  SELECT * INTO j FROM jobs WHERE id = (request->>'id')::bigint FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'no job %', request->>'id' USING ERRCODE = 'CR404';
  END IF;
  IF j.state NOT IN ('claimed', 'sending')
     OR j.generation <> (request->>'generation')::bigint THEN
    RAISE EXCEPTION 'job % is stale', j.id USING ERRCODE = 'CR409';
  END IF;

  -- Only an update of a job being sent ends a hand-over; the attempt
  -- takes the number that `sending` counted.
  IF attempt IS NOT NULL AND json_typeof(attempt) = 'object'
     AND j.state = 'sending' THEN
    INSERT INTO job_attempts (job, number, time_ms, outcome, reply)
      VALUES (j.id, j.attempts, (attempt->>'time')::bigint,
              attempt->>'outcome', attempt->>'reply')
      ON CONFLICT (job, number) DO UPDATE SET time_ms = excluded.time_ms,
        outcome = excluded.outcome, reply = excluded.reply;
  END IF;

  -- What went out: set by `sending`, or by the update that ends a
  -- hand-over whose claim stored `sending`.
  j.message_id := coalesce(request->>'message_id', j.message_id);
  j.language := coalesce(request->>'language', j.language);
  j.template_version := coalesce(request->>'template_version',
                                 j.template_version);
  IF target = 'sending' THEN
    j.attempts := j.attempts + 1;
    IF request->>'lease_ms' IS NOT NULL THEN
      j.lease_until := now_ms + (request->>'lease_ms')::bigint;
    END IF;
  ELSE
    j.lease_until := NULL;
    IF target = 'sent' THEN
      j.provider_id := coalesce(request->>'provider_id', j.provider_id);
    ELSE
      error := request->>'error';
    END IF;
    IF target = 'planned' THEN
      j.due := (request->>'due')::bigint;
    END IF;
    -- A job being sent that is held, suppressed or failed with no
    -- verdict was stopped before its hand-over, so it gives back the
    -- attempt that `sending` counted.
    IF j.state = 'sending' AND j.attempts > 0
       AND target IN ('planned', 'suppressed', 'failed')
       AND (attempt IS NULL OR json_typeof(attempt) <> 'object') THEN
      j.attempts := j.attempts - 1;
    END IF;
  END IF;
  IF error IS NOT NULL THEN
    j.last_error := error;
    j.error := coalesce(j.error, error);
  END IF;
  j.state := target;
  j.updated := now_ms;
  UPDATE jobs SET state = j.state, attempts = j.attempts, due = j.due,
                  lease_until = j.lease_until, message_id = j.message_id,
                  provider_id = j.provider_id, error = j.error,
                  last_error = j.last_error, updated = j.updated,
                  language = j.language,
                  template_version = j.template_version
    WHERE id = j.id;

  metric := CASE
    WHEN target IN ('sent', 'failed', 'dead') THEN target
    WHEN target = 'suppressed'
      THEN 'suppressed:' || coalesce(j.last_error, 'unknown') END;
  IF metric IS NOT NULL THEN
    PERFORM crier_report_count(j, metric, now_ms);
  END IF;
  RETURN json_build_object('state', j.state);
END
$$;

-- {"state", "rule", "limit", "before", "attempts"} lists jobs newest
-- first, with the count of jobs in each state.
CREATE OR REPLACE FUNCTION crier_jobs_list(request json) RETURNS json
LANGUAGE plpgsql STABLE AS $$
DECLARE
  wanted_state text := request->>'state';
  wanted_rule text := request->>'rule';
  before bigint := coalesce((request->>'before')::bigint,
                            9223372036854775807);
  size bigint := least(coalesce((request->>'limit')::bigint, 100), 1000);
  with_attempts boolean := coalesce((request->>'attempts')::boolean, false);
  list jsonb;
BEGIN
  SELECT coalesce(jsonb_agg(
           CASE WHEN with_attempts
             THEN crier_job_listed(j) || jsonb_build_object(
               'attempt_log', coalesce((
                 SELECT jsonb_agg(jsonb_build_object(
                          'number', a.number, 'time', a.time_ms,
                          'outcome', a.outcome, 'reply', a.reply)
                        ORDER BY a.number)
                 FROM job_attempts a WHERE a.job = j.id), '[]'))
             ELSE crier_job_listed(j) END
           ORDER BY j.id DESC), '[]')
    INTO list
    FROM (SELECT * FROM jobs
          WHERE (wanted_state IS NULL OR state = wanted_state)
            AND (wanted_rule IS NULL OR rule = wanted_rule)
            AND id < before
          ORDER BY id DESC LIMIT size) j;
  RETURN json_build_object('jobs', list, 'counts', coalesce(
    (SELECT json_object_agg(state, n)
     FROM (SELECT state, count(*) AS n FROM jobs GROUP BY state) c), '{}'));
END
$$;

-- {"profile", "channel", "since", "lane"} counts the jobs being sent or
-- sent at or after `since`, for frequency caps. The count reads the
-- shared table, so each node counts the messages of the others.
CREATE OR REPLACE FUNCTION crier_jobs_sent_count(request json) RETURNS json
LANGUAGE sql STABLE AS $$
  SELECT json_build_object('count', count(*)) FROM jobs
  WHERE profile = request->>'profile' AND channel = request->>'channel'
    AND state IN ('sending', 'sent')
    AND updated >= (request->>'since')::bigint
    AND ((coalesce((request->>'lane')::bigint, -1) < 0 AND lane <> 2)
         OR lane = (request->>'lane')::bigint)
$$;

-- {"id", "now"} moves a failed or dead job back to planned.
CREATE OR REPLACE FUNCTION crier_job_retry(request json) RETURNS json
LANGUAGE plpgsql AS $$
DECLARE
  j jobs;
  now_ms bigint := (request->>'now')::bigint;
BEGIN
  SELECT * INTO j FROM jobs WHERE id = (request->>'id')::bigint FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'no job %', request->>'id' USING ERRCODE = 'CR404';
  END IF;
  IF j.state NOT IN ('failed', 'dead') THEN
    RAISE EXCEPTION 'job % is %', j.id, j.state USING ERRCODE = 'CR409';
  END IF;
  UPDATE jobs SET state = 'planned', attempts = 0, lease_until = NULL,
                  due = now_ms, updated = now_ms
    WHERE id = j.id;
  RETURN json_build_object('state', 'planned');
END
$$;

-- {"kind", "value", "reason", "time"} marks an address invalid for good.
CREATE OR REPLACE FUNCTION crier_address_invalidate(request json)
RETURNS json LANGUAGE sql AS $$
  INSERT INTO invalid_addresses (value, kind, reason, time_ms)
    VALUES (request->>'value', request->>'kind', request->>'reason',
            (request->>'time')::bigint)
    ON CONFLICT (value, kind) DO UPDATE SET reason = excluded.reason,
      time_ms = excluded.time_ms;
  SELECT '{}'::json
$$;

-- Takes the transaction's lock on the frequency caps of one profile on one
-- channel. The two-key form keeps these locks apart from the one-key
-- schema and events locks; two pairs whose hashes collide only wait for
-- each other.
CREATE OR REPLACE FUNCTION crier_cap_lock(profile text, channel text)
RETURNS void
LANGUAGE sql AS $$
  SELECT pg_advisory_xact_lock(x'63617073'::int,
                               hashtext(profile || chr(31) || channel))
$$;

-- Takes the cap locks of the jobs that the job_sending_capped entries of
-- a group mark, in one order, before the group takes any row lock, so
-- that groups on two nodes never wait for each other in a cycle.
CREATE OR REPLACE FUNCTION crier_cap_locks(requests json) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  k record;
BEGIN
  FOR k IN SELECT DISTINCT j.profile, j.channel,
                  hashtext(j.profile || chr(31) || j.channel) AS key
           FROM json_array_elements(requests) AS r
           JOIN jobs j ON j.id = (r->'request'->>'id')::bigint
           WHERE r->>'op' = 'job_sending_capped' AND j.profile IS NOT NULL
           ORDER BY key LOOP
    PERFORM crier_cap_lock(k.profile, k.channel);
  END LOOP;
END
$$;

-- Marks a claimed job `sending` unless one of the request's caps
-- ({"caps": [{"since", "max", "lane"}], "cap_error"}) is full, and then
-- suppresses it with `cap_error`. The cap lock makes marks of one profile
-- and channel wait for each other, and each statement of a function reads
-- the rows committed before it started, so the count after the lock
-- includes every mark that another node committed.
CREATE OR REPLACE FUNCTION crier_job_sending_capped(request json)
RETURNS json
LANGUAGE plpgsql AS $$
DECLARE
  j jobs;
  cap json;
  counted bigint;
BEGIN
  SELECT * INTO j FROM jobs WHERE id = (request->>'id')::bigint;
  IF NOT FOUND OR j.profile IS NULL THEN
    RETURN crier_job_update(request);
  END IF;
  PERFORM crier_cap_lock(j.profile, j.channel);
  FOR cap IN SELECT * FROM json_array_elements(request->'caps') LOOP
    SELECT count(*) INTO counted FROM jobs
      WHERE profile = j.profile AND channel = j.channel AND id <> j.id
        AND state IN ('sending', 'sent')
        AND updated >= (cap->>'since')::bigint
        AND ((coalesce((cap->>'lane')::bigint, -1) < 0 AND lane <> 2)
             OR lane = (cap->>'lane')::bigint);
    IF counted >= (cap->>'max')::bigint THEN
      RETURN crier_job_update(json_build_object(
        'id', j.id, 'generation', request->'generation',
        'state', 'suppressed', 'now', request->'now',
        'error', request->>'cap_error'));
    END IF;
  END LOOP;
  RETURN crier_job_update(request);
END
$$;
