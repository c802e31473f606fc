//! The 联营 single sign-on broker (spec §6, architecture §3.1): a buyer's browser signs in at
//! KooGallery, and the seller's product receives a short-lived signed login assertion instead of
//! having to speak OAuth with every tenant's Kit credentials itself.
//!
//! The flow:
//! 1. the product links to `GET /v1/sso/login?tenant=T&app=A`; the broker checks the tenant and
//!    app are in force in the Kit directory (written by the provisioning worker from tenantSync
//!    and applicationSync), binds a random `state` to the browser in a MAC'd cookie, and sends it
//!    to KooGallery's login page (`sso.login_url`);
//! 2. KooGallery redirects to `{sso.public_url}/v1/sso/callback?code=…&tenant=T`; the broker
//!    redeems the code at `{domainName}/api/v1/oauth2/token` with the tenant's `client_id` and
//!    opened client secret, reads `/api/v1/oauth2/userinfo`, and checks that `userName` is
//!    authorised and enabled for the app (authSync);
//! 3. it stores a session (tokens sealed at rest) and sends the browser to
//!    `{sso.product_url}?assertion=kfsso1.…` ([`assertion`] documents the format);
//! 4. the product verifies the assertion ([`verify`]) and redeems it once
//!    (`POST /v1/sso/redeem`, bearer `sso.api_token`); later it renews the session
//!    (`POST /v1/sso/refresh`, which re-checks the directory) and signs out through
//!    `GET /v1/sso/logout`.
//!
//! - [`router`]: the routes, to serve anywhere; [`Worker`] / [`run`]: on the worker host;
//! - [`Settings`]: `[sso]` resolved; [`SsoState`]: what the routes share.
#![warn(missing_docs)]

pub mod assertion;
mod cookie;
mod directory;
mod metrics;
mod oauth;
mod pages;
mod routes;
mod sessions;
mod settings;
mod state;
mod worker;

pub use assertion::{AssertionError, AssertionSigner, Claims, verify};
pub use routes::router;
pub use settings::{Settings, TOKENS_PURPOSE};
pub use state::SsoState;
pub use worker::{BuildOptions, SERVICE, StartError, Worker, build, run};
