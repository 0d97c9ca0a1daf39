//! The server, a dedicated database on it, its tables, and every stack's
//! pool, opened and warmed before anything is timed.

use std::time::Duration;

use pgdbm::{Database, DatabaseConfig};
use tokio_postgres::NoTls;

use crate::args::Options;
use crate::model;
use crate::stacks::{BoxError, Pipelined, RawSql, Stacks};

/// The schema pgdbm qualifies every table with; raw and sqlx use the same
/// qualified names.
pub const SCHEMA: &str = "bench";

/// The server to run against, and how to reach it.
#[derive(Debug, Clone)]
pub struct Server {
    /// The maintenance database's configuration (from
    /// `pgdbm::testing::server_config`).
    pub admin: DatabaseConfig,
    /// Where the configuration came from, for the report.
    pub source: String,
}

impl Server {
    /// `PGDBM_TEST_URL` / `DATABASE_URL`, else a throwaway local cluster.
    pub fn locate() -> Result<Server, BoxError> {
        let source = ["PGDBM_TEST_URL", "DATABASE_URL"]
            .iter()
            .find(|k| std::env::var(k).is_ok_and(|v| !v.is_empty()))
            .map(|k| format!("${k}"))
            .unwrap_or_else(|| {
                "throwaway cluster from the local binaries (pgdbm::testing)".to_owned()
            });
        let mut admin = pgdbm::testing::server_config()?;
        // Every stack talks plain TCP: the raw and sqlx stacks do, and a
        // server with `ssl = on` would otherwise have pgdbm (sslmode=prefer
        // by default) pay for encryption the others skip.
        admin.ssl_mode = Some(pgdbm::SslMode::Disable);
        Ok(Server { admin, source })
    }

    /// A tokio-postgres configuration for database `dbname` on this server.
    pub fn pg_config(&self, dbname: &str) -> tokio_postgres::Config {
        let c = &self.admin;
        let mut pg = tokio_postgres::Config::new();
        if c.host.starts_with('/') {
            pg.host_path(&c.host);
        } else {
            pg.host(&c.host);
        }
        pg.port(c.port).user(&c.user).dbname(dbname);
        if let Some(password) = &c.password {
            pg.password(password.as_bytes());
        }
        pg.connect_timeout(Duration::from_secs(10));
        pg
    }

    /// Runs `sql` on the maintenance database over a fresh connection.
    pub async fn admin_execute(&self, sql: &str) -> Result<(), BoxError> {
        let (client, connection) = self.pg_config(&self.admin.database).connect(NoTls).await?;
        let task = tokio::spawn(connection);
        let result = client.batch_execute(sql).await;
        drop(client);
        let _ = task.await;
        Ok(result?)
    }

    /// Server version and key settings, for the report.
    pub async fn describe(&self, dbname: &str) -> Result<String, BoxError> {
        let (client, connection) = self.pg_config(dbname).connect(NoTls).await?;
        let task = tokio::spawn(connection);
        let row = client
            .query_one(
                "SELECT current_setting('server_version'), current_setting('fsync'), \
                 current_setting('synchronous_commit'), current_setting('shared_buffers'), \
                 current_setting('max_connections')",
                &[],
            )
            .await?;
        drop(client);
        let _ = task.await;
        let (version, fsync, sync_commit, buffers, max_conn): (
            String,
            String,
            String,
            String,
            String,
        ) = (row.get(0), row.get(1), row.get(2), row.get(3), row.get(4));
        Ok(format!(
            "PostgreSQL {version} at {}:{} (fsync={fsync}, synchronous_commit={sync_commit}, \
             shared_buffers={buffers}, max_connections={max_conn})",
            self.admin.host, self.admin.port
        ))
    }
}

/// Quotes an identifier.
pub fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Creates the dedicated database and the tables, and opens every stack's
/// pool with `pool_size` warm connections.
pub async fn open_stacks(
    server: &Server,
    dbname: &str,
    opts: &Options,
) -> Result<Stacks, BoxError> {
    let (pool_size, bulk_rows) = (opts.pool_size, opts.bulk_rows);
    // pgdbm: its defaults (statement timeouts, command_timeout, statement
    // cache) except the pool size, as a service would run it; once with
    // multiplexing off (an exclusive pooled connection per call, like raw)
    // and once with it on (the default).
    let mut config = server
        .admin
        .clone()
        .with_database(dbname)
        .with_schema(SCHEMA);
    config.min_connections = pool_size;
    config.max_connections = pool_size;
    let db = Database::connect(config.clone().with_multiplexing(false)).await?;
    let mut mux_config = config.with_multiplexing(true);
    if let Some(n) = opts.mux_connections {
        mux_config.multiplex_connections = n;
    }
    if let Some(n) = opts.mux_depth {
        mux_config.multiplex_depth = n;
    }
    let db_mux_connections = mux_config.multiplex_connections;
    let db_mux = Database::connect(mux_config).await?;
    for sql in model::SCHEMA_SQL {
        db.execute(sql, &[]).await?;
    }
    let sql = RawSql::new(&db, bulk_rows)?;

    // raw: deadpool-postgres with the Fast recycling method (no query on
    // checkout) and its statement cache (`prepare_cached`).
    let manager = deadpool_postgres::Manager::from_config(
        server.pg_config(dbname),
        NoTls,
        deadpool_postgres::ManagerConfig {
            recycling_method: deadpool_postgres::RecyclingMethod::Fast,
        },
    );
    let raw = deadpool_postgres::Pool::builder(manager)
        .max_size(pool_size)
        .runtime(deadpool_postgres::Runtime::Tokio1)
        .build()?;
    let held = futures_util::future::try_join_all((0..pool_size).map(|_| raw.get())).await?;
    drop(held);

    // raw-pipelined: as many bare clients as pgdbm-mux opens at most.
    let mut pipelined = Vec::new();
    for _ in 0..db_mux_connections.min(pool_size).max(1) {
        let (client, connection) = server.pg_config(dbname).connect(NoTls).await?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        pipelined.push(Pipelined {
            w1: client.prepare(&sql.w1).await?,
            w2: client.prepare(&sql.w2).await?,
            w5: client.prepare(model::W5_SQL).await?,
            client,
        });
    }

    // sqlx: the same server, default pool options but the size; the second
    // pool does not ping connections on acquire.
    let c = &server.admin;
    let mut options = sqlx::postgres::PgConnectOptions::new()
        .host(&c.host)
        .port(c.port)
        .username(&c.user)
        .database(dbname);
    if let Some(password) = &c.password {
        options = options.password(password);
    }
    let sqlx_pool = |ping: bool| {
        sqlx::postgres::PgPoolOptions::new()
            .max_connections(pool_size as u32)
            .min_connections(pool_size as u32)
            .test_before_acquire(ping)
            .connect_with(options.clone())
    };
    let sqlx = sqlx_pool(true).await?;
    let sqlx_noping = sqlx_pool(false).await?;
    for pool in [&sqlx, &sqlx_noping] {
        let held =
            futures_util::future::try_join_all((0..pool_size).map(|_| pool.acquire())).await?;
        drop(held);
    }

    let backend: i32 = raw
        .get()
        .await?
        .query_one("SELECT pg_backend_pid()", &[])
        .await?
        .get(0);
    let postmaster = crate::sysload::postmaster_of(backend);

    Ok(Stacks {
        postmaster,
        raw,
        db,
        db_mux,
        pipelined,
        next_pipelined: Default::default(),
        sqlx,
        sqlx_noping,
        sql,
        items: model::items(bulk_rows),
    })
}

/// Closes every pool.
pub async fn close_stacks(stacks: &Stacks) {
    stacks.db.close().await;
    stacks.db_mux.close().await;
    stacks.sqlx.close().await;
    stacks.sqlx_noping.close().await;
    stacks.raw.close();
}

/// Empties W3's table (between loads, untimed).
pub async fn truncate_items(stacks: &Stacks) -> Result<(), BoxError> {
    stacks.db.execute("TRUNCATE {{tables.items}}", &[]).await?;
    Ok(())
}
