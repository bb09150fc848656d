"""Fill a crier SQLite database for bench/report.

Writes PROFILES profiles, each with a stage in program snap-benefits,
EVENTS page_view events linked to them over 2025, and the report
counters the pipeline would have kept for their stage moves. The rows
are the same every run. Usage: report_data.py DB PROFILES EVENTS
"""
import json
import random
import sqlite3
import sys

DAY = 86400000
START = 1735689600000  # 2025-01-01T00:00:00Z
STAGES = ["awareness", "consideration", "adoption", "use", "advocacy"]
# How far residents got, as shares of 100.
REACHED = [40, 25, 20, 10, 5]
BATCH = 100000


def profile_id(i):
    return "p_%012d" % i


def stage_of(i):
    point = i % 100
    for n, share in enumerate(REACHED):
        if point < share:
            return n
        point -= share
    return 0


def fill_profiles(db, count):
    for first in range(0, count, BATCH):
        ids = range(first, min(first + BATCH, count))
        db.executemany("INSERT INTO profiles (id, created, updated,"
                       " attributes) VALUES (?, ?, ?, '{}')",
                       ((profile_id(i), START, START) for i in ids))
        db.executemany("INSERT INTO stages (profile, program, stage, since)"
                       " VALUES (?, 'snap-benefits', ?, ?)",
                       ((profile_id(i), STAGES[stage_of(i)],
                         START + (i % 365) * DAY) for i in ids))
        db.commit()


def fill_counters(db, count):
    """Write the stage moves and times in stage of the residents: one
    move per stage reached, spread over the year."""
    rng = random.Random(7)
    moves = {}
    durations = {}
    for i in range(count):
        day = START + (i % 365) * DAY
        reached = stage_of(i)
        for n in range(reached + 1):
            key = (day, STAGES[n - 1] if n else "", STAGES[n])
            moves[key] = moves.get(key, 0) + 1
            if n:
                key = (STAGES[n - 1], day, rng.randrange(60))
                durations[key] = durations.get(key, 0) + 1
    db.executemany("INSERT INTO report_moves VALUES"
                   " ('snap-benefits', ?, ?, ?, ?)",
                   ((d, f, t, n) for (d, f, t), n in moves.items()))
    db.executemany("INSERT INTO report_durations VALUES"
                   " ('snap-benefits', ?, ?, ?, ?)",
                   ((s, d, days, n) for (s, d, days), n in durations.items()))
    db.commit()


def fill_events(db, count, profiles):
    for first in range(0, count, BATCH):
        rows = []
        for seq in range(first, min(first + BATCH, count)):
            time_ms = START + (seq * 3) % (365 * DAY)
            body = json.dumps({"type": "page_view",
                               "properties": {"url": "/snap/%d" % (seq % 50)}})
            rows.append(("api", "page_view", time_ms, time_ms, body,
                         profile_id(seq % profiles)))
        db.executemany("INSERT INTO events (source, type, time_ms,"
                       " received_ms, body, profile)"
                       " VALUES (?, ?, ?, ?, ?, ?)", rows)
        db.commit()
    db.execute("INSERT INTO cursors (name, value)"
               " SELECT 'pipeline', coalesce(max(seq), 0) FROM events WHERE true"
               " ON CONFLICT (name) DO UPDATE SET value = excluded.value")
    db.commit()


def main():
    path, profiles, events = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = OFF")
    fill_profiles(db, profiles)
    fill_counters(db, profiles)
    fill_events(db, events, profiles)
    db.close()


if __name__ == "__main__":
    main()
