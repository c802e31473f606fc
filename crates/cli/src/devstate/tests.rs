use koofill_config::{Config, ConfiguredKeys, configured_keys_with_env};

use super::*;

fn state(stopped: bool) -> DevState {
    DevState {
        pid: 42,
        started_at: Utc::now(),
        stopped_at: stopped.then(Utc::now),
        ingress: IngressState { listen: "127.0.0.1:8181".parse().unwrap() },
        nats: Some(NatsState { url: "nats://127.0.0.1:41000".into() }),
        database: Some(DatabaseState { url: "sqlite://.koofill/koofill.db?mode=rwc".into() }),
        simulator: Some(SimulatorState { api_base: "http://127.0.0.1:41001".into() }),
    }
}

fn cfg_in(dir: &Path) -> Config {
    let mut cfg = Config::default();
    cfg.dev.state_dir = dir.to_path_buf();
    cfg
}

#[test]
fn written_then_read_back_as_is() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(DevState::read(dir.path()).unwrap(), None);
    let written = state(false);
    written.write(dir.path()).unwrap();
    assert_eq!(DevState::read(dir.path()).unwrap(), Some(written));
    let text = std::fs::read_to_string(path(dir.path())).unwrap();
    assert!(text.starts_with("# Written by `koofill dev`"), "{text}");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "no partial file left behind");
}

#[test]
fn a_damaged_file_is_named() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(path(dir.path()), "pid = \"x\"").unwrap();
    let err = format!("{:#}", DevState::read(dir.path()).unwrap_err());
    assert!(err.contains("dev.toml") && err.contains("delete it"), "{err}");
}

#[test]
fn unconfigured_keys_follow_a_running_dev() {
    let dir = tempfile::tempdir().unwrap();
    state(false).write(dir.path()).unwrap();
    let mut cfg = cfg_in(dir.path());
    let followed = follow(&mut cfg, &ConfiguredKeys::default()).unwrap().unwrap();
    assert!(followed.nats && followed.database);
    assert_eq!(cfg.nats.url, "nats://127.0.0.1:41000");
    assert_eq!(cfg.database.url, "sqlite://.koofill/koofill.db?mode=rwc");
    assert_eq!(cfg.ingress.listen.port(), 8181);
    assert_eq!(cfg.koogallery.api_base, "http://127.0.0.1:41001");
    followed.check_nats().unwrap();
    assert!(followed.nats_origin().unwrap().contains("dev.toml"));
}

#[test]
fn configured_keys_win_even_when_they_equal_the_default() {
    let dir = tempfile::tempdir().unwrap();
    state(false).write(dir.path()).unwrap();
    let mut cfg = cfg_in(dir.path());
    let default_nats = cfg.nats.url.clone();
    let configured = configured_keys_with_env(
        None,
        [
            ("KOOFILL__NATS__URL".to_owned(), default_nats.clone()),
            ("KOOFILL__INGRESS__LISTEN".into(), "0.0.0.0:1".into()),
        ],
    )
    .unwrap();
    let followed = follow(&mut cfg, &configured).unwrap().unwrap();
    assert!(!followed.nats && followed.database);
    assert_eq!(cfg.nats.url, default_nats);
    assert_ne!(cfg.ingress.listen.port(), 8181);
    assert!(followed.nats_origin().is_none());
}

#[test]
fn a_stopped_dev_still_lends_its_database_but_not_its_nats() {
    let dir = tempfile::tempdir().unwrap();
    state(true).write(dir.path()).unwrap();
    let mut cfg = cfg_in(dir.path());
    let defaults = Config::default();
    let followed = follow(&mut cfg, &ConfiguredKeys::default()).unwrap().unwrap();
    assert_eq!(cfg.database.url, "sqlite://.koofill/koofill.db?mode=rwc");
    assert_eq!(cfg.koogallery.api_base, defaults.koogallery.api_base, "its simulator is gone");
    assert_eq!(cfg.ingress.listen, defaults.ingress.listen);
    let err = followed.check_nats().unwrap_err().to_string();
    assert!(err.contains("stopped") && err.contains("dev.toml"), "{err}");
}

#[test]
fn no_file_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = cfg_in(dir.path());
    assert!(follow(&mut cfg, &ConfiguredKeys::default()).unwrap().is_none());
    assert_eq!(cfg.nats.url, Config::default().nats.url);
}
