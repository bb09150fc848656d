-- 1: the first schema, with the tables of every store operation. Times
-- are milliseconds since 1970 (bigint), as in the sqlite store. JSON
-- members that are read and written whole (event bodies, attributes,
-- consent, related records) are text, so that they read back as they
-- were written. Text compares byte by byte (COLLATE "C"), as in SQLite,
-- so pages in id order are the same on every server locale.
CREATE TABLE events (
  seq bigserial PRIMARY KEY,
  source text COLLATE "C" NOT NULL,
  ext_id text COLLATE "C",
  type text COLLATE "C" NOT NULL,
  time_ms bigint NOT NULL,
  received_ms bigint NOT NULL,
  body text COLLATE "C" NOT NULL,
  profile text COLLATE "C");
-- Only events with an id can repeat.
CREATE UNIQUE INDEX events_source_id ON events (source, ext_id)
  WHERE ext_id IS NOT NULL;
CREATE INDEX events_profile_time ON events (profile, time_ms, seq)
  WHERE profile IS NOT NULL;

CREATE TABLE cursors (
  name text COLLATE "C" PRIMARY KEY,
  value bigint NOT NULL);

CREATE TABLE profiles (
  id text COLLATE "C" PRIMARY KEY,
  created bigint NOT NULL,
  updated bigint NOT NULL,
  attributes text COLLATE "C" NOT NULL,
  consent text COLLATE "C" NOT NULL DEFAULT '{}',
  related text COLLATE "C" NOT NULL DEFAULT '{}');

-- `added` keeps the order in which a profile's identities were added.
CREATE TABLE identities (
  kind text COLLATE "C" NOT NULL,
  value text COLLATE "C" NOT NULL,
  profile text COLLATE "C" NOT NULL,
  added bigserial NOT NULL,
  PRIMARY KEY (kind, value));
CREATE INDEX identities_profile ON identities (profile, added);

CREATE TABLE stages (
  profile text COLLATE "C" NOT NULL,
  program text COLLATE "C" NOT NULL,
  stage text COLLATE "C" NOT NULL,
  since bigint NOT NULL,
  PRIMARY KEY (profile, program));
CREATE INDEX stages_program ON stages (program, stage);

CREATE TABLE stage_history (
  id bigserial PRIMARY KEY,
  profile text COLLATE "C",
  program text COLLATE "C" NOT NULL,
  from_stage text COLLATE "C",
  to_stage text COLLATE "C" NOT NULL,
  time_ms bigint NOT NULL,
  event_seq bigint,
  rule text COLLATE "C");
CREATE INDEX stage_history_profile ON stage_history (profile, program, id);

CREATE TABLE merges (
  from_id text COLLATE "C" PRIMARY KEY,
  into_id text COLLATE "C" NOT NULL,
  time_ms bigint NOT NULL);

CREATE TABLE erasures (
  id bigserial PRIMARY KEY,
  time_ms bigint NOT NULL);

CREATE TABLE jobs (
  id bigserial PRIMARY KEY,
  key text COLLATE "C" NOT NULL UNIQUE,
  rule text COLLATE "C" NOT NULL,
  program text COLLATE "C",
  profile text COLLATE "C",
  event_seq bigint,
  channel text COLLATE "C" NOT NULL,
  template text COLLATE "C" NOT NULL,
  recipient text COLLATE "C",
  state text COLLATE "C" NOT NULL,
  generation bigint NOT NULL,
  attempts bigint NOT NULL,
  due bigint NOT NULL,
  lease_until bigint,
  owner text COLLATE "C",
  message_id text COLLATE "C",
  provider_id text COLLATE "C",
  error text COLLATE "C",
  last_error text COLLATE "C",
  language text COLLATE "C",
  template_version text COLLATE "C",
  lane integer NOT NULL DEFAULT 1,
  priority bigint NOT NULL DEFAULT 0,
  created bigint NOT NULL,
  updated bigint NOT NULL);
-- Claims read planned jobs by lane, due and priority, and leased jobs by
-- the end of their lease; jobs_list reads one state newest first.
CREATE INDEX jobs_lane_due ON jobs (state, lane, due, priority);
CREATE INDEX jobs_lease ON jobs (state, lease_until)
  WHERE lease_until IS NOT NULL;
CREATE INDEX jobs_state ON jobs (state, id);
CREATE INDEX jobs_profile ON jobs (profile, created);

CREATE TABLE job_attempts (
  job bigint NOT NULL,
  number bigint NOT NULL,
  time_ms bigint NOT NULL,
  outcome text COLLATE "C" NOT NULL,
  reply text COLLATE "C",
  PRIMARY KEY (job, number));

CREATE TABLE invalid_addresses (
  value text COLLATE "C" NOT NULL,
  kind text COLLATE "C" NOT NULL,
  reason text COLLATE "C" NOT NULL,
  time_ms bigint NOT NULL,
  PRIMARY KEY (value, kind));

CREATE TABLE segment_members (
  segment text COLLATE "C" NOT NULL,
  profile text COLLATE "C" NOT NULL,
  since bigint NOT NULL,
  PRIMARY KEY (segment, profile));
CREATE INDEX segment_members_profile ON segment_members (profile);

CREATE TABLE schedules (
  source text COLLATE "C" NOT NULL,
  profile text COLLATE "C" NOT NULL,
  schedule text COLLATE "C" NOT NULL,
  record text COLLATE "C" NOT NULL,
  basis text COLLATE "C" NOT NULL,
  date text COLLATE "C" NOT NULL,
  zone text COLLATE "C" NOT NULL,
  occurrence text COLLATE "C" NOT NULL,
  due bigint,
  lease_until bigint,
  PRIMARY KEY (source, profile, schedule, record));
CREATE INDEX schedules_due ON schedules (source, due, profile, schedule,
  record) WHERE due IS NOT NULL;
CREATE INDEX schedules_profile ON schedules (profile);

CREATE TABLE journeys (
  journey text COLLATE "C" NOT NULL,
  profile text COLLATE "C" NOT NULL,
  entry bigint NOT NULL,
  step text COLLATE "C" NOT NULL,
  state text COLLATE "C" NOT NULL,
  due bigint,
  since bigint NOT NULL,
  updated bigint NOT NULL,
  PRIMARY KEY (journey, profile));
CREATE INDEX journeys_due ON journeys (due, journey, profile)
  WHERE due IS NOT NULL AND state = 'active';
CREATE INDEX journeys_profile ON journeys (profile);

CREATE TABLE report_messages (
  rule text COLLATE "C" NOT NULL,
  template text COLLATE "C" NOT NULL,
  channel text COLLATE "C" NOT NULL,
  metric text COLLATE "C" NOT NULL,
  day bigint NOT NULL,
  count bigint NOT NULL,
  PRIMARY KEY (rule, template, channel, metric, day));
CREATE TABLE report_moves (
  program text COLLATE "C" NOT NULL,
  day bigint NOT NULL,
  from_stage text COLLATE "C" NOT NULL,
  to_stage text COLLATE "C" NOT NULL,
  count bigint NOT NULL,
  PRIMARY KEY (program, day, from_stage, to_stage));
CREATE TABLE report_durations (
  program text COLLATE "C" NOT NULL,
  stage text COLLATE "C" NOT NULL,
  day bigint NOT NULL,
  days bigint NOT NULL,
  count bigint NOT NULL,
  PRIMARY KEY (program, stage, day, days));
CREATE TABLE conversions (
  goal text COLLATE "C" NOT NULL,
  job bigint NOT NULL,
  event_seq bigint NOT NULL,
  time_ms bigint NOT NULL,
  PRIMARY KEY (goal, job));
CREATE TABLE job_engagements (
  job bigint NOT NULL,
  metric text COLLATE "C" NOT NULL,
  time_ms bigint NOT NULL,
  PRIMARY KEY (job, metric));
