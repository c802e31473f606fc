//! `koofill licenses list|show` (License 2.0 codes as the license worker keeps them; read only,
//! the database is opened without creating it) and `koofill license keygen|verify` (the Ed25519
//! key pair of the offline status tokens, and checking a token the way the seller's software does).

use std::path::{Path, PathBuf};

use anyhow::Context;
use chrono::{DateTime, Utc};
use clap::Subcommand;
use koofill_license::{
    proxy::status_of,
    token::{self, Claims, TokenVerifier},
};
use koofill_store::entities::{license_checks, license_transitions, licenses};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use super::{Target, table};

/// Context of a failed read: the usual cause is a database nothing has migrated yet.
const READ_HINT: &str = "reading licenses (a database without koofill's tables needs `koofill migrate`)";

/// The files `koofill license keygen` writes.
const PRIVATE_FILE: &str = "license-signing-key.pem";
const PUBLIC_FILE: &str = "license-public-key.pem";

/// `koofill licenses …`.
#[derive(Debug, Clone, Subcommand)]
pub enum LicensesCommand {
    /// List license codes, most recently changed first.
    List {
        /// Only codes whose stored status is this (active, frozen, released).
        #[arg(long)]
        status: Option<String>,
        /// At most this many.
        #[arg(long, default_value_t = 50)]
        limit: u64,
    },
    /// Show one code with its transitions and KooGallery checks.
    Show {
        /// The license code.
        code: String,
    },
}

/// `koofill license …`.
#[derive(Debug, Clone, Subcommand)]
pub enum LicenseCommand {
    /// Write a new Ed25519 key pair for status tokens: the private key (owner-only) to configure as
    /// `license.signing_key_file`, the public key to compile into the software.
    Keygen {
        /// The folder to write `license-signing-key.pem` and `license-public-key.pem` into.
        #[arg(long, default_value = ".")]
        out: PathBuf,
    },
    /// Verify a status token as the software would; exit code 1 when it is invalid or expired.
    Verify {
        /// The token (`kflic1.<claims>.<signature>`).
        token: String,
        /// The public key: SPKI PEM, or the 32 raw bytes in base64.
        #[arg(long, value_name = "FILE")]
        public_key: PathBuf,
        /// The key id the key signs as (`license.signing_key_id`); default: derived from the key.
        #[arg(long)]
        kid: Option<String>,
        /// Also require this machine fingerprint, when the token carries one.
        #[arg(long)]
        fingerprint: Option<String>,
    },
}

/// A timestamp to the minute, or nothing.
fn time(t: Option<DateTime<Utc>>) -> String {
    t.map(|t| t.format("%Y-%m-%d %H:%M").to_string()).unwrap_or_default()
}

/// Runs `koofill licenses …`.
///
/// # Errors
/// When the database cannot be read, or the code is unknown.
pub async fn run_licenses(cmd: LicensesCommand, target: &Target) -> anyhow::Result<()> {
    let db = target.read_database().await?;
    match cmd {
        LicensesCommand::List { status, limit } => print!("{}", list(&db, status.as_deref(), limit, Utc::now()).await?),
        LicensesCommand::Show { code } => print!("{}", show(&db, &code, Utc::now()).await?),
    }
    Ok(())
}

/// The list as text: code, status (as the activation proxy reports it), expiry, last KooGallery
/// check, activation.
async fn list(db: &DatabaseConnection, status: Option<&str>, limit: u64, now: DateTime<Utc>) -> anyhow::Result<String> {
    let mut q = licenses::Entity::find().order_by_desc(licenses::Column::UpdatedAt);
    if let Some(s) = status {
        q = q.filter(licenses::Column::Status.eq(s));
    }
    let rows = q.limit(limit).all(db).await.context(READ_HINT)?;
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                r.code.clone(),
                status_of(r, now).as_str().to_owned(),
                time(r.expire_time),
                time(r.checked_at),
                time(r.activated_at),
                r.order_id.clone().unwrap_or_default(),
                if r.test { "debug".into() } else { String::new() },
            ]
        })
        .collect();
    let header = ["CODE", "STATUS", "EXPIRES (UTC)", "LAST CHECK (UTC)", "ACTIVATED (UTC)", "ORDER", ""];
    Ok(format!("{}{} license(s)\n", table::render(&header, &cells), rows.len()))
}

/// One code as text, with its transitions and the calls koofill made to KooGallery about it.
async fn show(db: &DatabaseConnection, code: &str, now: DateTime<Utc>) -> anyhow::Result<String> {
    use std::fmt::Write;
    let r = licenses::Entity::find_by_id(code.to_owned())
        .one(db)
        .await
        .context(READ_HINT)?
        .with_context(|| format!("no license code {code}"))?;
    let mut out = String::new();
    let mut field = |k: &str, v: String| {
        let _ = writeln!(out, "{k:<16}{v}");
    };
    field("code", r.code.clone());
    field("status", format!("{} (stored: {})", status_of(&r, now).as_str(), r.status));
    field("debug", r.test.to_string());
    field("order", format!("{} / {}", r.order_id.clone().unwrap_or_default(), r.order_line_id.unwrap_or_default()));
    field("product", r.product_id.unwrap_or_default());
    field("expires", time(r.expire_time));
    field("activated", time(r.activated_at));
    let kg = r.kg_status.map(|s| format!(" (KooGallery said {s})")).unwrap_or_default();
    field("last check", format!("{}{kg}", time(r.checked_at)));
    if r.check_due {
        field("check due", "a callback changed the code; the next status request asks KooGallery".into());
    }
    if r.released_before_known {
        field("note", "released before anything else was known (tombstone)".into());
    }
    let transitions = license_transitions::Entity::find()
        .filter(license_transitions::Column::Code.eq(code))
        .order_by_asc(license_transitions::Column::Id)
        .all(db)
        .await
        .context("reading transitions")?;
    let rows: Vec<Vec<String>> = transitions
        .iter()
        .map(|t| {
            vec![
                t.at.format("%Y-%m-%d %H:%M:%S").to_string(),
                t.step.clone(),
                format!("{} → {}", t.from_status, t.to_status),
                t.order_id.clone().unwrap_or_default(),
                t.scene.clone().unwrap_or_default(),
            ]
        })
        .collect();
    let _ = write!(out, "\ntransitions:\n{}", table::render(&["AT (UTC)", "STEP", "STATUS", "ORDER", "SCENE"], &rows));
    let checks = license_checks::Entity::find()
        .filter(license_checks::Column::Code.eq(code))
        .order_by_asc(license_checks::Column::Id)
        .all(db)
        .await
        .context("reading KooGallery checks")?;
    if !checks.is_empty() {
        let rows: Vec<Vec<String>> = checks
            .iter()
            .map(|c| {
                vec![
                    c.at.format("%Y-%m-%d %H:%M:%S").to_string(),
                    c.call.clone(),
                    c.outcome.clone(),
                    c.status.clone().unwrap_or_default(),
                    format!("{} ms", c.duration_ms),
                ]
            })
            .collect();
        let header = ["AT (UTC)", "CALL", "OUTCOME", "STATUS", "TOOK"];
        let _ = write!(out, "\nKooGallery checks:\n{}", table::render(&header, &rows));
    }
    Ok(out)
}

/// Runs `koofill license …`; returns the exit code (1 when a token does not verify).
///
/// # Errors
/// When a file cannot be read or written.
pub fn run_license(cmd: LicenseCommand) -> anyhow::Result<i32> {
    match cmd {
        LicenseCommand::Keygen { out } => {
            let (private, public, kid) = keygen(&out)?;
            println!("private key  {} (owner-only; keep it secret)", private.display());
            println!("public key   {} (compile it into the software)", public.display());
            println!("kid          {kid}");
            println!("\nconfigure the worker with:\n  [license]\n  signing_key_file = {:?}", private.display());
            println!("or KOOFILL__LICENSE__SIGNING_KEY_FILE={}", private.display());
            Ok(0)
        }
        LicenseCommand::Verify { token, public_key, kid, fingerprint } => {
            match verify(&token, &public_key, kid, fingerprint.as_deref(), Utc::now())? {
                Ok(claims) => {
                    print!("{}", describe(&claims));
                    Ok(0)
                }
                Err(e) => {
                    eprintln!("invalid token: {e}");
                    Ok(1)
                }
            }
        }
    }
}

/// Writes a new key pair into `dir` (the private key owner-only, neither file replaced); returns
/// the two paths and the default `kid`.
fn keygen(dir: &Path) -> anyhow::Result<(PathBuf, PathBuf, String)> {
    let (private_pem, public_pem) = token::generate_pem().context("generating the key pair")?;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let private = dir.join(PRIVATE_FILE);
    let public = dir.join(PUBLIC_FILE);
    anyhow::ensure!(
        !private.exists() && !public.exists(),
        "{} already holds a key pair; choose another --out or move it away first",
        dir.display()
    );
    crate::devkeys::write_private(&private, private_pem.as_bytes())?;
    // The configuration may be read from another folder: name the key by its absolute path.
    let private = std::fs::canonicalize(&private).unwrap_or(private);
    std::fs::write(&public, &public_pem).with_context(|| format!("writing {}", public.display()))?;
    let kid = token::default_kid(&token::parse_verifying_key(&public_pem).context("reading the new public key")?);
    Ok((private, public, kid))
}

/// Verifies `token` with the key in `public_key` at `now`: the outer error is a file or key that
/// cannot be read, the inner one the token's own fault.
fn verify(
    token: &str,
    public_key: &Path,
    kid: Option<String>,
    fingerprint: Option<&str>,
    now: DateTime<Utc>,
) -> anyhow::Result<Result<Claims, token::TokenError>> {
    let text = std::fs::read_to_string(public_key).with_context(|| format!("reading {}", public_key.display()))?;
    let key = token::parse_verifying_key(&text).with_context(|| format!("{}", public_key.display()))?;
    Ok(TokenVerifier::new().with_key(key, kid).verify(token, now, fingerprint))
}

/// The claims of a verified token, and whether the software may run under it.
fn describe(claims: &Claims) -> String {
    let at = |secs: i64| {
        DateTime::from_timestamp(secs, 0).map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string()).unwrap_or_default()
    };
    let usable =
        if claims.status.is_usable() { "yes".to_owned() } else { format!("no (status {})", claims.status.as_str()) };
    format!(
        "valid token\ncode         {}\nstatus       {}\nissued       {}\nexpires      {}\nkid          {}\nfingerprint  {}\nusable       {usable}\n",
        claims.code,
        claims.status.as_str(),
        at(claims.iat),
        at(claims.exp),
        claims.kid,
        claims.fp.as_deref().unwrap_or("(none)"),
    )
}

#[cfg(test)]
mod tests {
    use chrono::Duration;
    use koofill_license::token::{TokenError, TokenSigner};
    use koofill_model::license_rpc::LicenseStatus;
    use sea_orm::{ActiveModelTrait, Set};

    use super::*;

    async fn database() -> (tempfile::TempDir, DatabaseConnection) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("koofill.db").display());
        let db = koofill_store::connect(&url).await.unwrap();
        koofill_store::migrate(&db).await.unwrap();
        (dir, db)
    }

    async fn insert(db: &DatabaseConnection, code: &str, status: &str, activated: Option<DateTime<Utc>>) {
        let now = Utc::now();
        licenses::ActiveModel {
            code: Set(code.to_owned()),
            order_id: Set(Some(format!("CS{code}"))),
            status: Set(status.to_owned()),
            expire_time: Set(Some(now + Duration::days(30))),
            test: Set(false),
            released_before_known: Set(false),
            activated_at: Set(activated),
            activation_announced: Set(activated.is_some()),
            checked_at: Set(activated),
            check_due: Set(false),
            version: Set(1),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        }
        .insert(db)
        .await
        .unwrap();
    }

    #[tokio::test]
    async fn the_list_shows_each_code_as_the_proxy_reports_it() {
        let (_dir, db) = database().await;
        let activated = Utc::now() - Duration::hours(2);
        insert(&db, "PLLIST0001", "active", Some(activated)).await;
        insert(&db, "PLLIST0002", "active", None).await;
        insert(&db, "PLLIST0003", "frozen", Some(activated)).await;
        let text = list(&db, None, 50, Utc::now()).await.unwrap();
        let line = |code: &str| text.lines().find(|l| l.starts_with(code)).unwrap().to_owned();
        assert!(line("PLLIST0001").contains("active") && line("PLLIST0001").contains(&time(Some(activated))));
        assert!(line("PLLIST0002").contains("not_activated"), "{text}");
        assert!(line("PLLIST0003").contains("frozen"), "{text}");
        assert!(text.contains("LAST CHECK") && text.ends_with("3 license(s)\n"), "{text}");
        let frozen = list(&db, Some("frozen"), 50, Utc::now()).await.unwrap();
        assert!(frozen.contains("PLLIST0003") && !frozen.contains("PLLIST0001"), "{frozen}");

        let shown = show(&db, "PLLIST0003", Utc::now()).await.unwrap();
        assert!(shown.contains("status          frozen (stored: frozen)"), "{shown}");
        let missing = show(&db, "PLNOPE", Utc::now()).await.unwrap_err();
        assert!(missing.to_string().contains("no license code PLNOPE"), "{missing}");
    }

    #[test]
    fn keygen_writes_a_private_key_for_the_owner_only_and_never_replaces_one() {
        let dir = tempfile::tempdir().unwrap();
        let (private, public, kid) = keygen(dir.path()).unwrap();
        let key = token::parse_signing_key(&std::fs::read_to_string(&private).unwrap()).unwrap();
        assert_eq!(
            token::parse_verifying_key(&std::fs::read_to_string(&public).unwrap()).unwrap(),
            key.verifying_key()
        );
        assert_eq!(kid, token::default_kid(&key.verifying_key()));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&private).unwrap().permissions().mode() & 0o777, 0o600);
        }
        let again = keygen(dir.path()).unwrap_err();
        assert!(again.to_string().contains("already holds a key pair"), "{again}");
        assert_eq!(token::parse_signing_key(&std::fs::read_to_string(&private).unwrap()).unwrap(), key);
    }

    #[test]
    fn verify_accepts_a_good_token_and_names_what_is_wrong_with_a_bad_one() {
        let dir = tempfile::tempdir().unwrap();
        let (private, public, _) = keygen(dir.path()).unwrap();
        let signer =
            TokenSigner::new(token::parse_signing_key(&std::fs::read_to_string(private).unwrap()).unwrap(), None);
        let now = Utc::now();
        let good = signer.issue("PLVERIFY1", LicenseStatus::Frozen, now, now + Duration::hours(1), Some("host-1"));

        let claims = verify(&good, &public, None, Some("host-1"), now).unwrap().unwrap();
        let text = describe(&claims);
        assert!(text.contains("PLVERIFY1") && text.contains("usable       no (status frozen)"), "{text}");
        let expired = verify(&good, &public, None, None, now + Duration::hours(2)).unwrap();
        assert!(matches!(expired, Err(TokenError::Expired(_))), "{expired:?}");
        let tampered = good.replacen("kflic1.e", "kflic1.f", 1);
        assert!(verify(&tampered, &public, None, None, now).unwrap().is_err());
        assert_eq!(verify(&good, &public, None, Some("host-2"), now).unwrap(), Err(TokenError::Fingerprint));
        let other_kid = verify(&good, &public, Some("rotated".into()), None, now).unwrap();
        assert_eq!(other_kid, Err(TokenError::UnknownKey(signer.kid().to_owned())));
        assert!(verify(&good, &dir.path().join("missing.pem"), None, None, now).is_err());
    }
}
