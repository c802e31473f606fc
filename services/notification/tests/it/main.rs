//! End to end: a real nats-server, SQLite (and PostgreSQL when `KOOFILL_TEST_DATABASE_URL` is
//! set), the notification worker, and local stand-ins for every provider.

mod dead_letters;
mod digest;
mod email;
mod fanout;
mod im;
mod stand_in;
mod support;
