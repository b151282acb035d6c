//! What the store can fail at. Messages read as context, on one line, so the
//! binary can print `weir: <error>` and exit.

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("invalid database URL {url:?}: {reason}")]
    InvalidUrl { url: String, reason: String },
    #[error("cannot reach the store at {url}: {reason}")]
    Unreachable { url: String, reason: String },
    /// The store has no weir schema, or an older one than this binary needs.
    /// Never fixed silently: an operator runs `weir migrate`.
    #[error(
        "the store at {url} has schema version {found}, this weir needs {expected}: \
         run `weir migrate --database-url URL` first",
        found = found.map(|v| v.to_string()).unwrap_or_else(|| "none (no weir tables)".into())
    )]
    SchemaOutdated { url: String, found: Option<i64>, expected: i64 },
    /// The store was migrated by a newer weir than this one.
    #[error("the store at {url} has schema version {found}, newer than this weir's {expected}: upgrade weir")]
    SchemaNewer { url: String, found: i64, expected: i64 },
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Broker(#[from] weir_broker::Error),
    #[error("no archived job with id {0:?}")]
    NotFound(String),
    /// The archived envelope cannot be parsed, so the job cannot be re-enqueued.
    #[error("job {id} cannot be retried: {reason}")]
    NotRetryable { id: String, reason: String },
    #[error("invalid outbox row {seq}: {reason}")]
    InvalidOutboxRow { seq: i64, reason: String },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
