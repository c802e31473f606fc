//! The three layers, secret files and error reporting, through the public loader.

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::Path;

use koofill_config::{
    Config, ConfigError, ExposeSecret as _, LogFormat, ProvisionerKind, SecretString, load_as_with_env, load_with_env,
};
use serde::Deserialize;
use tempfile::NamedTempFile;

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(name, value)| ((*name).to_owned(), (*value).to_owned())).collect()
}

fn file_with(content: &str) -> NamedTempFile {
    let mut file = NamedTempFile::new().expect("temp file");
    file.write_all(content.as_bytes()).expect("write temp file");
    file
}

fn load(explicit: Option<&Path>, pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
    load_with_env(explicit, env(pairs))
}

fn secret(value: Option<&SecretString>) -> Option<&str> {
    value.map(|s| s.expose_secret())
}

#[test]
fn defaults_load_with_no_file_and_no_env() {
    let cfg = load(None, &[]).expect("defaults are valid");
    assert_eq!(cfg.koogallery.api_base, "https://mkt.myhuaweicloud.com");
    assert_eq!(cfg.koogallery.api_fallback_base, "https://mkt.myhuaweicloud.cn");
    assert_eq!(cfg.koogallery.max_clock_skew_secs, 60);
    assert!(cfg.koogallery.basic_keys().is_empty());
    assert_eq!(cfg.nats.url, "nats://127.0.0.1:4222");
    assert_eq!(cfg.nats.prefix, "koofill");
    assert_eq!(cfg.database.url, "sqlite://koofill.db?mode=rwc");
    assert_eq!(cfg.ingress.listen, "0.0.0.0:8080".parse::<SocketAddr>().expect("addr"));
    assert_eq!(cfg.ingress.base_path, "/kg/produce");
    assert_eq!(cfg.provisioner.kind, ProvisionerKind::Template);
    assert_eq!(cfg.consumer.max_ack_pending, 256);
    assert_eq!(cfg.telemetry.log_format, LogFormat::Text);
    assert_eq!(cfg.telemetry.otlp_endpoint, None);
    assert_eq!(cfg.shutdown.grace_secs, 20);
    assert_eq!(cfg.dev.state_dir, Path::new(".koofill"));
}

#[test]
fn the_defaults_file_and_the_default_impls_agree() {
    // Debug covers every field, and no secret has a default, so equal text means equal values.
    let from_file = load(None, &[]).expect("defaults are valid");
    assert_eq!(format!("{from_file:?}"), format!("{:?}", Config::default()));
}

#[test]
fn a_file_overrides_the_defaults() {
    let file = file_with(
        r#"
        [nats]
        prefix = "fromfile"
        [ingress]
        listen = "127.0.0.1:9000"
        change_check_default = "reject"
        [provisioner]
        kind = "webhook"
        webhook_url = "http://isv.example/hooks"
        webhook_secret = "whsec"
        "#,
    );
    let cfg = load(Some(file.path()), &[]).expect("valid file");
    assert_eq!(cfg.nats.prefix, "fromfile");
    assert_eq!(cfg.ingress.listen.port(), 9000);
    assert_eq!(cfg.ingress.change_check_default, koofill_config::ChangeCheckDefault::Reject);
    assert_eq!(cfg.provisioner.kind, ProvisionerKind::Webhook);
    assert_eq!(cfg.nats.url, "nats://127.0.0.1:4222", "untouched keys keep their defaults");
}

#[test]
fn the_environment_overrides_the_file() {
    let file = file_with(
        r#"
        [koogallery]
        basic_key = "from-file"
        [nats]
        prefix = "fromfile"
        [ingress]
        listen = "127.0.0.1:9000"
        "#,
    );
    let cfg = load(
        Some(file.path()),
        &[
            ("KOOFILL__KOOGALLERY__BASIC_KEY", "from-env"),
            ("KOOFILL__INGRESS__LISTEN", "127.0.0.1:9100"),
            ("KOOFILL__NATS__PREFIX", "fromenv"),
        ],
    )
    .expect("valid layers");
    assert_eq!(secret(cfg.koogallery.basic_key.as_ref()), Some("from-env"));
    assert_eq!(cfg.ingress.listen.port(), 9100);
    assert_eq!(cfg.nats.prefix, "fromenv");
}

#[test]
fn environment_values_arrive_verbatim_and_typed_keys_still_parse() {
    let cfg = load(
        None,
        &[
            ("KOOFILL__KOOGALLERY__BASIC_KEY", "007"),
            ("KOOFILL__KOOGALLERY__KIT_KEY", "1e3"),
            ("KOOFILL__CONSUMER__CONCURRENCY", "4"),
            ("KOOFILL__PROVISIONER__PROVISION_DEBUG_ORDERS", "true"),
            ("KOOFILL__TELEMETRY__LOG_FORMAT", "json"),
            ("KOOFILL__NATS__URL", ""), // empty means unset
        ],
    )
    .expect("valid env");
    assert_eq!(secret(cfg.koogallery.basic_key.as_ref()), Some("007"));
    assert_eq!(secret(cfg.koogallery.kit_key.as_ref()), Some("1e3"));
    assert_eq!(cfg.consumer.concurrency, 4);
    assert!(cfg.provisioner.provision_debug_orders);
    assert_eq!(cfg.telemetry.log_format, LogFormat::Json);
    assert_eq!(cfg.nats.url, "nats://127.0.0.1:4222");
}

#[test]
fn koofill_config_names_the_file_and_an_explicit_path_beats_it() {
    let by_env = file_with("[nats]\nprefix = \"byenv\"\n");
    let explicit = file_with("[nats]\nprefix = \"explicit\"\n");
    let path = by_env.path().to_str().expect("utf-8 temp path");

    let cfg = load(None, &[("KOOFILL_CONFIG", path)]).expect("named file exists");
    assert_eq!(cfg.nats.prefix, "byenv");
    let cfg = load(Some(explicit.path()), &[("KOOFILL_CONFIG", path)]).expect("explicit file exists");
    assert_eq!(cfg.nats.prefix, "explicit");
}

#[test]
fn a_named_file_that_does_not_exist_is_an_error_naming_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let missing = dir.path().join("nowhere.toml");

    let err = load(Some(&missing), &[]).expect_err("explicit file is missing");
    assert!(matches!(err, ConfigError::MissingFile { named_by: "--config", .. }), "{err:?}");
    assert!(err.to_string().contains(&missing.display().to_string()), "{err}");

    let named = missing.to_str().expect("utf-8 temp path");
    let err = load(None, &[("KOOFILL_CONFIG", named)]).expect_err("KOOFILL_CONFIG file is missing");
    assert!(err.to_string().contains(named), "{err}");
    assert!(err.to_string().contains("KOOFILL_CONFIG"), "{err}");
}

#[test]
fn a_value_of_the_wrong_type_names_its_key() {
    let err = load(None, &[("KOOFILL__CONSUMER__CONCURRENCY", "many")]).expect_err("not a number");
    assert_eq!(err.key(), Some("consumer.concurrency"), "{err:?}");
    assert!(err.to_string().contains("consumer.concurrency"), "{err}");

    let err = load(None, &[("KOOFILL__INGRESS__LISTEN", "not-an-address")]).expect_err("not an address");
    assert_eq!(err.key(), Some("ingress.listen"), "{err:?}");
}

#[test]
fn a_broken_file_is_an_error_naming_the_file() {
    let file = file_with("[nats\nprefix = ");
    let err = load(Some(file.path()), &[]).expect_err("not TOML");
    let chain = format!("{err}: {}", std::error::Error::source(&err).map(ToString::to_string).unwrap_or_default());
    // The `config` crate may print the path relative to the working directory, so look for the
    // file's name, which is unique (a temporary file).
    let name = file.path().file_name().expect("a file name").to_string_lossy().into_owned();
    assert!(chain.contains(&name), "{chain}");
}

#[test]
fn load_validates() {
    let err = load(None, &[("KOOFILL__NATS__PREFIX", "Bad.Prefix")]).expect_err("invalid prefix");
    assert_eq!(err.key(), Some("nats.prefix"));
    let err = load(None, &[("KOOFILL__NATS__REPLICAS", "0")]).expect_err("no replicas");
    assert_eq!(err.key(), Some("nats.replicas"));
    let cfg = load(None, &[("KOOFILL__NATS__REPLICAS", "3")]).expect("a cluster");
    assert_eq!(cfg.nats.replicas, 3);
}

#[test]
fn debug_never_shows_a_secret() {
    let cfg = load(
        None,
        &[
            ("KOOFILL__KOOGALLERY__BASIC_KEY", "secret-basic"),
            ("KOOFILL__KOOGALLERY__BASIC_KEY_PREVIOUS", "secret-basic-old"),
            ("KOOFILL__KOOGALLERY__KIT_KEY", "secret-kit"),
            ("KOOFILL__KOOGALLERY__KIT_KEY_PREVIOUS", "secret-kit-old"),
            ("KOOFILL__KOOGALLERY__ACCESS_KEY_ID", "AKID"),
            ("KOOFILL__KOOGALLERY__SECRET_ACCESS_KEY", "secret-sk"),
            ("KOOFILL__KOOGALLERY__CLIENT_SECRET_PRIVATE_KEY", "secret-pem"),
            ("KOOFILL__INGRESS__ADMIN_TOKEN", "secret-admin"),
            ("KOOFILL__PROVISIONER__WEBHOOK_SECRET", "secret-webhook"),
            ("KOOFILL__DATABASE__URL", "postgres://koofill:secret-db@db/koofill"),
            ("KOOFILL__NATS__URL", "nats://koofill:secret-nats@nats:4222"),
        ],
    )
    .expect("valid env");
    let shown = format!("{cfg:?} {cfg:#?}");
    assert!(!shown.contains("secret-"), "a secret leaked: {shown}");
    assert!(shown.contains("REDACTED"));
    assert!(shown.contains("AKID"), "the key id is not a secret");
}

#[test]
fn secrets_can_come_from_files() {
    let basic = file_with("  from-a-file\n");
    let webhook = file_with("whsec-from-file\n");
    let toml = file_with(&format!(
        "[provisioner]\nkind = \"webhook\"\nwebhook_url = \"http://isv.example/hooks\"\nwebhook_secret_file = {:?}\n",
        webhook.path().to_str().expect("utf-8 temp path")
    ));
    let basic_path = basic.path().to_str().expect("utf-8 temp path");
    let cfg = load(Some(toml.path()), &[("KOOFILL__KOOGALLERY__BASIC_KEY_FILE", basic_path)]).expect("valid");
    assert_eq!(secret(cfg.koogallery.basic_key.as_ref()), Some("from-a-file"), "trimmed");
    assert_eq!(secret(cfg.provisioner.webhook_secret.as_ref()), Some("whsec-from-file"));
}

#[test]
fn secret_file_problems_name_the_key() {
    let dir = tempfile::tempdir().expect("temp dir");
    let missing = dir.path().join("absent");
    let missing = missing.to_str().expect("utf-8 temp path");
    let err = load(None, &[("KOOFILL__KOOGALLERY__KIT_KEY_FILE", missing)]).expect_err("no such file");
    assert!(matches!(err, ConfigError::SecretFile { .. }), "{err:?}");
    assert_eq!(err.key(), Some("koogallery.kit_key"));
    assert!(err.to_string().contains(missing), "{err}");

    let empty = file_with(" \n");
    let empty = empty.path().to_str().expect("utf-8 temp path");
    let err = load(None, &[("KOOFILL__KOOGALLERY__KIT_KEY_FILE", empty)]).expect_err("empty file");
    assert_eq!(err.key(), Some("koogallery.kit_key"));

    let full = file_with("k");
    let full = full.path().to_str().expect("utf-8 temp path");
    let err = load(None, &[("KOOFILL__KOOGALLERY__KIT_KEY", "k"), ("KOOFILL__KOOGALLERY__KIT_KEY_FILE", full)])
        .expect_err("two sources for one secret");
    assert_eq!(err.key(), Some("koogallery.kit_key"));
}

#[test]
fn rotated_keys_come_current_first() {
    let cfg = load(
        None,
        &[
            ("KOOFILL__KOOGALLERY__BASIC_KEY", "new"),
            ("KOOFILL__KOOGALLERY__BASIC_KEY_PREVIOUS", "old"),
            ("KOOFILL__KOOGALLERY__KIT_KEY", "kit"),
        ],
    )
    .expect("valid");
    assert_eq!(cfg.koogallery.basic_keys(), [b"new".as_slice(), b"old".as_slice()]);
    assert_eq!(cfg.koogallery.kit_keys(), [b"kit".as_slice()]);
}

#[test]
fn other_services_read_their_own_sections_from_the_same_layers() {
    #[derive(Debug, Deserialize)]
    struct NotificationOnly {
        notification: Notification,
    }
    #[derive(Debug, Deserialize)]
    struct Notification {
        smtp_host: String,
        smtp_password: SecretString,
    }

    let password = file_with("smtp-pass\n");
    let file = file_with("[notification]\nsmtp_host = \"mail.example\"\n");
    let got: NotificationOnly = load_as_with_env(
        Some(file.path()),
        env(&[("KOOFILL__NOTIFICATION__SMTP_PASSWORD_FILE", password.path().to_str().expect("utf-8 temp path"))]),
    )
    .expect("valid");
    assert_eq!(got.notification.smtp_host, "mail.example");
    assert_eq!(got.notification.smtp_password.expose_secret(), "smtp-pass");

    // And koofill's own loader ignores that section.
    load(Some(file.path()), &[]).expect("unknown sections are ignored");
}
