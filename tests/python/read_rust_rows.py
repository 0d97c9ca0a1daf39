"""Reads, with the Python library, a schema that pgdbm for Rust migrated.

Usage: python read_rust_rows.py URL SCHEMA MIGRATIONS_DIR

Exits 0 when pgdbm (Python) sees every file as applied with a matching
checksum and has nothing to apply; prints what it saw either way.
"""

import asyncio
import sys

from pgdbm import AsyncDatabaseManager, AsyncMigrationManager, DatabaseConfig


async def main(url: str, schema: str, path: str) -> int:
    db = AsyncDatabaseManager(DatabaseConfig(connection_string=url, schema=schema))
    await db.connect()
    try:
        manager = AsyncMigrationManager(db, migrations_path=path)
        pending = [m.filename for m in await manager.get_pending_migrations()]
        result = await manager.apply_pending_migrations()
        print(f"pending={pending} status={result['status']} skipped={result['skipped']}")
        return 0 if not pending and result["status"] == "up_to_date" else 1
    finally:
        await db.disconnect()


if __name__ == "__main__":
    sys.exit(asyncio.run(main(*sys.argv[1:4])))
