"""Writes N subscribers straight into a SQLite file that crier created:
a profile with an email identity each, all confirmed subscribers of the
topic "road-closures" on the channel "email".

    bulletin_data.py DB N
"""
import sqlite3
import sys
import time
import uuid


def main():
    path, count = sys.argv[1], int(sys.argv[2])
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    now = int(time.time() * 1000)
    batch = 50000
    for first in range(0, count, batch):
        ids = ["%s" % uuid.UUID(int=(now << 80) | i, version=4)
               for i in range(first, min(first + batch, count))]
        db.executemany(
            "INSERT INTO profiles (id, created, updated, attributes)"
            " VALUES (?, ?, ?, '{}')", ((p, now, now) for p in ids))
        db.executemany(
            "INSERT INTO identities (kind, value, profile)"
            " VALUES ('email', ?, ?)",
            (("subscriber%d@example.gov" % (first + n), p)
             for n, p in enumerate(ids)))
        db.executemany(
            "INSERT INTO subscriptions (profile, topic, channel, status,"
            " origin, created, updated)"
            " VALUES (?, 'road-closures', 'email', 'confirmed', 'import',"
            " ?, ?)", ((p, now, now) for p in ids))
        db.commit()
    db.close()


main()
