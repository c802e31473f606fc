//! Worker-host tests against a real nats-server and database.
