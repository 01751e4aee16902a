#!/usr/bin/python3
"""The plain script a peer would write for the same job, as the baseline of bench/tables.sh.

For every table of a MySQL database: read the rows whose updated_at is past the mark stored for the table,
upsert them by id into a collection of the same name, and store the new mark. Marks are read with one find
and written with one bulk write, and each table costs one SELECT: no lock, no checkpoints, no lookback, no
delete handling, no type care. It is the floor a careful tool is compared with, not a tool.

    /usr/bin/python3 bench/baseline_sync.py   (settings from MYSQL_* and MONGODB_* in the environment)
"""
import os

import pymongo
import pymysql


def main():
    env = os.environ
    my = pymysql.connect(host=env["MYSQL_HOST"], port=int(env["MYSQL_PORT"]), user=env["MYSQL_USER"],
                         password=env["MYSQL_PASSWORD"], database=env["MYSQL_DATABASE"], autocommit=True)
    mongo = pymongo.MongoClient(env["MONGODB_URL"])[env["MONGODB_DATABASE"]]
    cur = my.cursor()
    cur.execute("SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()")
    tables = [r[0] for r in cur.fetchall()]
    marks = {d["_id"]: d["mark"] for d in mongo["_baseline_marks"].find({})}
    updates = []
    for t in tables:
        mark = marks.get(t, "1970-01-01 00:00:01")
        cur.execute("SELECT * FROM `%s` WHERE updated_at > %%s ORDER BY updated_at" % t, (mark,))
        rows = cur.fetchall()
        if not rows:
            continue
        names = [d[0] for d in cur.description]
        ops = [pymongo.ReplaceOne({"id": r[0]}, dict(zip(names, r)), upsert=True) for r in rows]
        mongo[t].bulk_write(ops, ordered=False)
        newest = str(rows[-1][names.index("updated_at")])
        updates.append(pymongo.UpdateOne({"_id": t}, {"$set": {"mark": newest}}, upsert=True))
    if updates:
        mongo["_baseline_marks"].bulk_write(updates, ordered=False)


if __name__ == "__main__":
    main()
