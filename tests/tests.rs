//! End-to-end tests of the whole system against a private redis-server.
//! One test binary, so one server; each test uses its own key prefix.
mod util;

mod autoscale;
mod bench;
mod broker_admin;
mod broker_durable;
mod broker_enqueue;
mod broker_hardening;
mod broker_lifecycle;
mod broker_reserve;
mod broker_wake;
mod cli_basic;
mod cluster;
mod cron;
mod dead;
mod demo;
mod docs_architecture;
mod examples;
mod faults;
mod job_control;
mod limits;
mod limits_fleet;
mod observability;
#[cfg(feature = "otel")]
mod otel;
mod protocol;
mod sentinel;
mod store_archive;
mod store_coexist;
mod store_history;
mod store_outbox;
mod store_perf;
mod store_schema;
mod store_support;
mod store_worker;
mod web;
mod web_browser;
mod web_support;
mod worker_errors;
mod worker_kill;
mod worker_limits;
mod worker_queues;
mod worker_registry;
mod worker_shutdown;
mod worker_support;
mod worker_timeout;
