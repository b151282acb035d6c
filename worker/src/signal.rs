//! The shutdown signals, as every weir command takes them (the service kit's
//! [`weir_service::signal`]), re-exported for worker binaries.
pub use weir_service::signal::{Signals, shutdown_signals};
