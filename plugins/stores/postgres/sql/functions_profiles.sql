-- Profiles, identities, stages and segments.

-- Returns profile `id` with its identities (in the order they were
-- added), stages, and with `times` its created and updated times and its
-- segments; null when it is not stored.
CREATE OR REPLACE FUNCTION crier_profile_json(profile_id text,
                                              times boolean) RETURNS json
LANGUAGE plpgsql STABLE AS $$
DECLARE
  p profiles;
  result jsonb;
BEGIN
  SELECT * INTO p FROM profiles WHERE id = profile_id;
  IF NOT FOUND THEN
    RETURN NULL;
  END IF;
  result := jsonb_build_object(
    'id', p.id,
    'attributes', p.attributes::jsonb,
    'consent', p.consent::jsonb,
    'related', '{"dependents": {}, "cases": {}}'::jsonb
               || p.related::jsonb,
    'identities', coalesce((SELECT jsonb_agg(jsonb_build_object(
                              'kind', kind, 'value', value) ORDER BY added)
                            FROM identities WHERE profile = profile_id),
                           '[]'),
    'stages', coalesce((SELECT jsonb_object_agg(program, jsonb_build_object(
                          'stage', stage, 'since', since))
                        FROM stages WHERE profile = profile_id), '{}'));
  IF times THEN
    result := result || jsonb_build_object(
      'created', p.created, 'updated', p.updated,
      'segments', coalesce((SELECT jsonb_agg(segment ORDER BY segment)
                            FROM segment_members
                            WHERE profile = profile_id), '[]'));
  END IF;
  RETURN result::json;
END
$$;

-- Follows the merges from `id` to the first profile that exists or was
-- never merged, at most 64 steps; null when `id` was never merged.
CREATE OR REPLACE FUNCTION crier_merge_chain_end(id text) RETURNS text
LANGUAGE plpgsql STABLE AS $$
DECLARE
  target text;
  next_id text;
BEGIN
  SELECT into_id INTO target FROM merges WHERE from_id = id;
  FOR step IN 1..63 LOOP
    EXIT WHEN target IS NULL
      OR EXISTS (SELECT 1 FROM profiles WHERE profiles.id = target);
    SELECT into_id INTO next_id FROM merges WHERE from_id = target;
    EXIT WHEN next_id IS NULL;
    target := next_id;
  END LOOP;
  RETURN target;
END
$$;

-- {"identities": [{kind, value}], "ids": [...]} gives {"profiles": [...],
-- "moved": {id: where it went}}; see docs/internals/store.md.
CREATE OR REPLACE FUNCTION crier_profiles_load(request json) RETURNS json
LANGUAGE plpgsql STABLE AS $$
DECLARE
  found text[] := '{}';
  list json[] := '{}';
  moved jsonb := '{}';
  owner text;
  wanted text;
  target text;
BEGIN
  FOR owner IN
    SELECT i.profile FROM json_array_elements(request->'identities')
         WITH ORDINALITY AS r(item, n)
    JOIN identities i ON i.kind = r.item->>'kind'
                     AND i.value = r.item->>'value'
    ORDER BY r.n
  LOOP
    IF NOT owner = ANY(found) THEN
      found := found || owner;
      list := list || crier_profile_json(owner, true);
    END IF;
  END LOOP;
  FOR wanted IN
    SELECT value FROM json_array_elements_text(
      coalesce(request->'ids', '[]'))
  LOOP
    IF EXISTS (SELECT 1 FROM profiles WHERE id = wanted) THEN
      target := wanted;
    ELSE
      target := crier_merge_chain_end(wanted);
      IF target IS NULL
         OR NOT EXISTS (SELECT 1 FROM profiles WHERE id = target) THEN
        CONTINUE;
      END IF;
      moved := moved || jsonb_build_object(wanted, target);
    END IF;
    IF NOT target = ANY(found) THEN
      found := found || target;
      list := list || crier_profile_json(target, true);
    END IF;
  END LOOP;
  RETURN json_build_object('profiles', to_json(list), 'moved', moved);
END
$$;

-- {"id"} gives {"profile": ...}, with "merged_into" for a merged-away id.
CREATE OR REPLACE FUNCTION crier_profile_get(request json) RETURNS json
LANGUAGE plpgsql STABLE AS $$
DECLARE
  profile json := crier_profile_json(request->>'id', true);
  target text;
BEGIN
  IF profile IS NOT NULL THEN
    RETURN json_build_object('profile', profile);
  END IF;
  target := crier_merge_chain_end(request->>'id');
  IF target IS NULL THEN
    RETURN json_build_object('profile', NULL);
  END IF;
  RETURN json_build_object('profile', NULL, 'merged_into', target);
END
$$;

-- Writes one profile of a commit batch and adds its new identities.
CREATE OR REPLACE FUNCTION crier_profile_write(p json) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO profiles (id, created, updated, attributes, consent, related)
    VALUES (p->>'id', (p->>'created')::bigint, (p->>'updated')::bigint,
            (p->'attributes')::text,
            coalesce(nullif((p->'consent')::text, 'null'), '{}'),
            coalesce(nullif((p->'related')::text, 'null'), '{}'))
    ON CONFLICT (id) DO UPDATE SET
      updated = excluded.updated, attributes = excluded.attributes,
      consent = coalesce(nullif((p->'consent')::text, 'null'),
                         profiles.consent),
      related = coalesce(nullif((p->'related')::text, 'null'),
                         profiles.related);
  INSERT INTO identities (kind, value, profile)
    SELECT i->>'kind', i->>'value', p->>'id'
    FROM json_array_elements(coalesce(p->'identities', '[]')) AS i
    ON CONFLICT DO NOTHING;
END
$$;

-- Applies one stage move of a commit batch.
CREATE OR REPLACE FUNCTION crier_stage_move(s json) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO stages (profile, program, stage, since)
    VALUES (s->>'profile', s->>'program', s->>'to', (s->>'time')::bigint)
    ON CONFLICT (profile, program) DO UPDATE SET
      stage = excluded.stage, since = excluded.since;
  INSERT INTO stage_history (profile, program, from_stage, to_stage,
                             time_ms, event_seq, rule)
    VALUES (s->>'profile', s->>'program', s->>'from', s->>'to',
            (s->>'time')::bigint, (s->>'event_seq')::bigint, s->>'rule');
END
$$;

-- Applies one segment change of a commit batch.
CREATE OR REPLACE FUNCTION crier_segment_apply(c json) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  IF (c->>'member')::boolean THEN
    INSERT INTO segment_members (segment, profile, since)
      VALUES (c->>'segment', c->>'profile', (c->>'time')::bigint)
      ON CONFLICT DO NOTHING;
  ELSE
    DELETE FROM segment_members
      WHERE segment = c->>'segment' AND profile = c->>'profile';
  END IF;
END
$$;
