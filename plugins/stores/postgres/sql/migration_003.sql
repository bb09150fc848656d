-- 3: pacing slots of destinations that every node shares (pace_acquire
-- and pace_release, sql/functions_pace.sql).
--
-- pace_keys has one row per key, which an acquire locks so that the
-- acquires of all nodes on one key run one at a time. pace_slots keeps
-- each slot until it counts toward neither limit: its start is a whole
-- window old and it is released or its lease has ended.
CREATE TABLE pace_keys (
  key text COLLATE "C" PRIMARY KEY);
CREATE TABLE pace_slots (
  id bigserial PRIMARY KEY,
  key text COLLATE "C" NOT NULL,
  started bigint NOT NULL,
  lease_until bigint NOT NULL,
  released boolean NOT NULL DEFAULT false);
CREATE INDEX pace_slots_key ON pace_slots (key, started);
