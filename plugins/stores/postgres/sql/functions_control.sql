-- The operator's pauses and the audit log of admin actions.

-- {"scope", "name", "paused", "time", "by"} pauses or resumes a scope.
-- The scope "all" is kept under the name ''.
CREATE OR REPLACE FUNCTION crier_pause_set(request json) RETURNS json
LANGUAGE plpgsql AS $$
DECLARE
  scope_name text := coalesce(request->>'name', '');
  changed bigint;
BEGIN
  IF (request->>'paused')::boolean THEN
    INSERT INTO pauses (scope, name, since, by)
      VALUES (request->>'scope', scope_name, (request->>'time')::bigint,
              request->>'by')
      ON CONFLICT (scope, name) DO NOTHING;
  ELSE
    DELETE FROM pauses
      WHERE scope = request->>'scope' AND name = scope_name;
  END IF;
  GET DIAGNOSTICS changed = ROW_COUNT;
  RETURN json_build_object('changed', changed > 0);
END
$$;

-- {} gives every paused scope, ordered by scope and name.
CREATE OR REPLACE FUNCTION crier_pauses_read(request json) RETURNS json
LANGUAGE sql STABLE AS $$
  SELECT json_build_object('pauses', coalesce(json_agg(
           json_strip_nulls(json_build_object('scope', scope, 'name', name,
                                              'since', since, 'by', by))
           ORDER BY scope, name), '[]'))
  FROM pauses
$$;

-- {"time", "token", "action", "target", "result"} appends an entry.
CREATE OR REPLACE FUNCTION crier_audit_append(request json) RETURNS json
LANGUAGE sql AS $$
  INSERT INTO audit_log (time_ms, token, action, target, result)
    VALUES ((request->>'time')::bigint, request->>'token',
            request->>'action', request->>'target',
            (request->>'result')::bigint)
    RETURNING json_build_object('id', id)
$$;

-- {"limit", "before", "token", "action", "since", "until"} lists entries
-- newest first. One row more than the page shows whether a next page
-- exists. The filters and the default limit are those of
-- audit_filter_parse.
CREATE OR REPLACE FUNCTION crier_audit_list(request json) RETURNS json
LANGUAGE plpgsql STABLE AS $$
DECLARE
  size bigint := coalesce((request->>'limit')::bigint, 100);
  page jsonb;
  more boolean;
BEGIN
  SELECT coalesce(jsonb_agg(e ORDER BY (e->>'id')::bigint DESC), '[]'),
         count(*) > size
    INTO page, more
    FROM (SELECT jsonb_strip_nulls(jsonb_build_object(
                   'id', id, 'time', time_ms, 'token', token,
                   'action', action, 'target', target,
                   'result', result)) AS e
          FROM audit_log
          WHERE id < coalesce((request->>'before')::bigint,
                              9223372036854775807)
            AND time_ms >= coalesce((request->>'since')::bigint,
                                    -9223372036854775808)
            AND time_ms < coalesce((request->>'until')::bigint,
                                   9223372036854775807)
            AND (request->>'token' IS NULL OR token = request->>'token')
            AND (request->>'action' IS NULL
                 OR action = request->>'action')
          ORDER BY id DESC LIMIT size + 1) rows;
  IF more THEN
    page := page - (jsonb_array_length(page) - 1)::int;
  END IF;
  RETURN json_build_object('entries', page, 'next',
    CASE WHEN more THEN page->(jsonb_array_length(page) - 1)->'id' END);
END
$$;
