-- Report counters, kept by commit and job_update, and report_read.

-- Counts a stage move and the whole days spent in the stage it leaves.
-- Runs before the move is stored, while `stages` has the old stage.
CREATE OR REPLACE FUNCTION crier_report_stage_move(s json) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  move_time bigint := (s->>'time')::bigint;
  move_day bigint := move_time - move_time % 86400000;
  old stages;
BEGIN
  SELECT * INTO old FROM stages
    WHERE profile = s->>'profile' AND program = s->>'program';
  IF FOUND THEN
    INSERT INTO report_durations (program, stage, day, days, count)
      VALUES (s->>'program', old.stage, move_day,
              CASE WHEN move_time > old.since
                   THEN (move_time - old.since) / 86400000 ELSE 0 END, 1)
      ON CONFLICT (program, stage, day, days)
      DO UPDATE SET count = report_durations.count + 1;
  END IF;
  INSERT INTO report_moves (program, day, from_stage, to_stage, count)
    VALUES (s->>'program', move_day, coalesce(s->>'from', ''), s->>'to', 1)
    ON CONFLICT (program, day, from_stage, to_stage)
    DO UPDATE SET count = report_moves.count + 1;
END
$$;

-- Credits a goal to the last job of the program that was sent to the
-- profile within the window (a holdout's job counts from when it was
-- planned), once per (goal, job).
CREATE OR REPLACE FUNCTION crier_goal_hit_apply(g json) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  hit_time bigint := (g->>'time')::bigint;
  j jobs;
  inserted integer;
BEGIN
  SELECT * INTO j FROM jobs
    WHERE profile = g->>'profile' AND program = g->>'program'
      AND (state = 'sent'
           OR (state = 'suppressed' AND last_error = 'holdout'))
      AND updated >= hit_time - (g->>'window_ms')::bigint
      AND updated <= hit_time
    ORDER BY updated DESC, id DESC LIMIT 1;
  IF NOT FOUND THEN
    RETURN;
  END IF;
  INSERT INTO conversions (goal, job, event_seq, time_ms)
    VALUES (g->>'goal', j.id, (g->>'event_seq')::bigint, hit_time)
    ON CONFLICT DO NOTHING;
  GET DIAGNOSTICS inserted = ROW_COUNT;
  IF inserted > 0 THEN
    PERFORM crier_report_count(j, 'converted:' || (g->>'goal'), hit_time);
  END IF;
END
$$;

-- Counts the first engagement of each metric per job; a key that names
-- no stored job (an erased or forged reference) counts nothing. A
-- delivery status ("delivered", "bounced", "complained", "undelivered",
-- "failed") may name its job by Message-ID alone. It is kept on the job
-- unless a later one is kept already (receipts may arrive out of
-- order), and with "invalidate" it marks the job's recipient invalid.
CREATE OR REPLACE FUNCTION crier_engagement_apply(e json) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  reported text := e->>'kind';
  delivery boolean := reported IN ('delivered', 'bounced', 'complained',
                               'undelivered', 'failed');
  bot boolean := coalesce((e->>'bot')::boolean, false);
  at_ms bigint := (e->>'time')::bigint;
  metric text := CASE
    WHEN reported = 'failed' THEN 'delivery_failed'
    WHEN delivery THEN reported
    WHEN reported = 'opened' AND bot THEN 'opened_bot'
    WHEN reported = 'clicked' AND bot THEN 'clicked_bot'
    ELSE reported END;
  j jobs;
  inserted integer;
BEGIN
  IF delivery THEN
    SELECT * INTO j FROM jobs
      WHERE key = e->>'key'
         OR (e->>'key' IS NULL AND message_id = e->>'message_id')
      ORDER BY id LIMIT 1;
  ELSE
    SELECT * INTO j FROM jobs WHERE key = e->>'key';
  END IF;
  IF NOT FOUND THEN
    RETURN;
  END IF;
  IF delivery THEN
    UPDATE jobs SET delivery_status = reported, delivery_code = e->>'code',
                    delivery_text = e->>'text', delivery_time = at_ms
      WHERE id = j.id
        AND (delivery_time IS NULL OR delivery_time <= at_ms);
    IF e->>'invalidate' IS NOT NULL AND j.recipient IS NOT NULL THEN
      INSERT INTO invalid_addresses (value, kind, reason, time_ms)
        VALUES (j.recipient, e->>'invalidate',
                coalesce(e->>'code', reported), at_ms)
        ON CONFLICT (value, kind) DO UPDATE SET reason = excluded.reason,
          time_ms = excluded.time_ms;
    END IF;
  END IF;
  INSERT INTO job_engagements (job, metric, time_ms)
    VALUES (j.id, metric, at_ms)
    ON CONFLICT DO NOTHING;
  GET DIAGNOSTICS inserted = ROW_COUNT;
  IF inserted > 0 THEN
    PERFORM crier_report_count(j, metric, at_ms);
  END IF;
END
$$;

-- {"since", "until", "program"} sums the counters of the days that start
-- in [since, until).
CREATE OR REPLACE FUNCTION crier_report_read(request json) RETURNS json
LANGUAGE plpgsql STABLE AS $$
DECLARE
  since bigint := (request->>'since')::bigint;
  until bigint := (request->>'until')::bigint;
  program_name text := request->>'program';
BEGIN
  RETURN json_build_object(
    'messages', coalesce((
      SELECT json_agg(json_build_object('rule', rule, 'template', template,
                                        'channel', channel,
                                        'metric', metric, 'count', n)
                      ORDER BY rule, template, channel, metric)
      FROM (SELECT rule, template, channel, metric, sum(count) AS n
            FROM report_messages WHERE day >= since AND day < until
            GROUP BY rule, template, channel, metric) m), '[]'),
    'residents', coalesce((
      SELECT json_agg(json_build_object('program', program, 'stage', stage,
                                        'count', n)
                      ORDER BY program, stage)
      FROM (SELECT program, stage, count(*) AS n FROM stages
            WHERE program_name IS NULL OR program = program_name
            GROUP BY program, stage) r), '[]'),
    'moves', coalesce((
      SELECT json_agg(json_build_object('program', program, 'day', day,
                                        'from', nullif(from_stage, ''),
                                        'to', to_stage, 'count', count)
                      ORDER BY program, day, from_stage, to_stage)
      FROM report_moves
      WHERE day >= since AND day < until
        AND (program_name IS NULL OR program = program_name)), '[]'),
    'durations', coalesce((
      SELECT json_agg(json_build_object('program', program, 'stage', stage,
                                        'days', days, 'count', n)
                      ORDER BY program, stage, days)
      FROM (SELECT program, stage, days, sum(count) AS n
            FROM report_durations
            WHERE day >= since AND day < until
              AND (program_name IS NULL OR program = program_name)
            GROUP BY program, stage, days) d), '[]'));
END
$$;
