-- 2: what the sqlite store's migrations 14 to 17 added.
--
-- The operator's pauses, which jobs_claim reads; the scope "all" has the
-- name ''. The audit log of admin actions is apart from residents' data,
-- so erasure never touches it.
CREATE TABLE pauses (
  scope text COLLATE "C" NOT NULL,
  name text COLLATE "C" NOT NULL,
  since bigint NOT NULL,
  by text COLLATE "C",
  PRIMARY KEY (scope, name));
CREATE TABLE audit_log (
  id bigserial PRIMARY KEY,
  time_ms bigint NOT NULL,
  token text COLLATE "C" NOT NULL,
  action text COLLATE "C" NOT NULL,
  target text COLLATE "C",
  result bigint NOT NULL);
CREATE INDEX audit_log_time ON audit_log (time_ms);

-- Topic subscriptions, one row per (profile, topic, channel), and stored
-- objects (bulletins, topics made by the admin API).
CREATE TABLE subscriptions (
  profile text COLLATE "C" NOT NULL,
  topic text COLLATE "C" NOT NULL,
  channel text COLLATE "C" NOT NULL,
  status text COLLATE "C" NOT NULL,
  origin text COLLATE "C" NOT NULL,
  created bigint NOT NULL,
  updated bigint NOT NULL,
  PRIMARY KEY (profile, topic, channel));
CREATE INDEX subscriptions_topic ON subscriptions (topic, channel, profile);
CREATE TABLE objects (
  kind text COLLATE "C" NOT NULL,
  id text COLLATE "C" NOT NULL,
  body text COLLATE "C" NOT NULL,
  PRIMARY KEY (kind, id));

-- jobs_tally reads a rule's jobs by state and reason. A claim reads each
-- lane's due jobs in (due, priority DESC, id) order from jobs_claim
-- without a sort, which a bulletin's backlog would make slow.
CREATE INDEX jobs_rule ON jobs (rule, state, error);
DROP INDEX jobs_lane_due;
CREATE INDEX jobs_claim ON jobs (state, lane, due, priority DESC, id);

-- Each job's last delivery status that a provider reported after `sent`,
-- with its code, text and time. A bounce names its job by Message-ID.
ALTER TABLE jobs ADD COLUMN delivery_status text COLLATE "C";
ALTER TABLE jobs ADD COLUMN delivery_code text COLLATE "C";
ALTER TABLE jobs ADD COLUMN delivery_text text COLLATE "C";
ALTER TABLE jobs ADD COLUMN delivery_time bigint;
CREATE INDEX jobs_message_id ON jobs (message_id)
  WHERE message_id IS NOT NULL;

-- The items a digest window collected, as a JSON array text, and the end
-- of the lease that a node's wake-up read took on the row.
ALTER TABLE journeys ADD COLUMN items text COLLATE "C";
ALTER TABLE journeys ADD COLUMN lease_until bigint;
