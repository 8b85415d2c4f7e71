"""Prints a database's contents as JSON, for comparing two: every table's columns and its
rows in a canonical order (run with the reference's Python).

    python dump_db.py <sqlalchemy-url>
"""

import json
import sys

import sqlalchemy as sa

engine = sa.create_engine(sys.argv[1])
meta = sa.MetaData()
meta.reflect(engine)
out = {}
with engine.connect() as conn:
    for name, table in sorted(meta.tables.items()):
        rows = [[repr(v) for v in row] for row in conn.execute(table.select())]
        out[name] = {"columns": [c.name for c in table.columns], "rows": sorted(rows)}
print(json.dumps(out, indent=1, sort_keys=True))
