-- The app's own table, migrated by the app (sqlx's history table,
-- `_sqlx_migrations`); weir's schema has its own history table, so the two
-- sets of migrations live side by side in one database.
CREATE TABLE orders (
    id INTEGER PRIMARY KEY,
    customer TEXT NOT NULL
);
