//! The one error type of the simulator library.

use std::net::SocketAddr;

/// Why the simulator could not start, or a run could not be set up.
///
/// Failed checks during a scenario or conformance run are not errors: they are recorded in the
/// run's report. These are the problems that stop a run from happening at all.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// The open-API server could not bind its address.
    #[error("cannot listen on {addr}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The HTTP client could not be built (no usable TLS backend).
    #[error("cannot build the HTTP client")]
    Client(#[source] reqwest::Error),
    /// A key needed for the run is not configured and no development keys were found.
    #[error("no {0} configured (set it in koofill.toml, the environment or as an option, or run `koofill dev` once)")]
    MissingKey(&'static str),
    /// The development keys file exists but cannot be read.
    #[error("cannot read the development keys in {path}")]
    DevKeys {
        /// The file.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A URL given for a target or a simulator is unusable.
    #[error("{url:?} is not a usable http(s) URL: {why}")]
    BadUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        why: String,
    },
    /// Registering something with a remote simulator failed.
    #[error("the simulator at {url} refused the registration: HTTP {status}")]
    Registration {
        /// The simulator's base URL.
        url: String,
        /// The HTTP status it answered (0 when it could not be reached).
        status: u16,
    },
}
