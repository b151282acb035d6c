//! What the store can fail at. Messages read as context, on one line, so the
//! binary can print `weir: <error>` and exit.

/// Everything the store can fail with; each message names the store's URL
/// or the row at fault.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// `--database-url` is neither a PostgreSQL nor a SQLite URL that parses.
    #[error("invalid database URL {url:?}: {reason}")]
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The database did not answer (down, wrong host, refused login).
    #[error("cannot reach the store at {url}: {reason}")]
    Unreachable {
        /// The store's URL.
        url: String,
        /// The driver's error.
        reason: String,
    },
    /// The store has no weir schema, or an older one than this binary needs.
    /// Never fixed silently: an operator runs `weir migrate`.
    #[error(
        "the store at {url} has schema version {found}, this weir needs {expected}: \
         run `weir migrate --database-url URL` first",
        found = found.map(|v| v.to_string()).unwrap_or_else(|| "none (no weir tables)".into())
    )]
    SchemaOutdated {
        /// The store's URL.
        url: String,
        /// Its schema version; None: no weir tables at all.
        found: Option<i64>,
        /// The version this weir needs.
        expected: i64,
    },
    /// The store was migrated by a newer weir than this one.
    #[error("the store at {url} has schema version {found}, newer than this weir's {expected}: upgrade weir")]
    SchemaNewer {
        /// The store's URL.
        url: String,
        /// Its schema version.
        found: i64,
        /// The newest version this weir knows.
        expected: i64,
    },
    /// `weir migrate` could not apply a migration.
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A query failed.
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    /// Reading from or enqueueing into Redis failed.
    #[error(transparent)]
    Broker(#[from] weir_broker::Error),
    /// `weir failed show/retry ID` named a job the archive does not hold.
    #[error("no archived job with id {0:?}")]
    NotFound(String),
    /// The archived envelope cannot be parsed, so the job cannot be re-enqueued.
    #[error("job {id} cannot be retried: {reason}")]
    NotRetryable {
        /// The archived job's id.
        id: String,
        /// Why its envelope does not parse.
        reason: String,
    },
    /// An outbox row whose `job` column is not an [`OutboxJob`](crate::OutboxJob)
    /// (a row written by hand or by another language).
    #[error("invalid outbox row {seq}: {reason}")]
    InvalidOutboxRow {
        /// The row's `seq`.
        seq: i64,
        /// Why it does not parse.
        reason: String,
    },
}

/// The store's result, with [`Error`] by default.
pub type Result<T, E = Error> = std::result::Result<T, E>;
