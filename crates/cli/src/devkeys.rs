//! Development keys: generated once under the state directory so that `koofill dev` runs with no
//! configuration and `koofill sim` can sign as KooGallery against it. Configured keys always win.

use std::path::{Path, PathBuf};

use anyhow::Context;
use rand::{Rng, distributions::Alphanumeric};

/// The generated keys.
#[derive(Clone, PartialEq, Eq)]
pub struct DevKeys {
    /// Key of the basic interfaces.
    pub basic_key: String,
    /// Key of the Kit sync interfaces.
    pub kit_key: String,
    /// AK for the (simulated) open APIs.
    pub access_key_id: String,
    /// SK for the (simulated) open APIs.
    pub secret_access_key: String,
}

impl std::fmt::Debug for DevKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DevKeys").field("access_key_id", &self.access_key_id).finish_non_exhaustive()
    }
}

/// The file the keys live in.
pub fn path(state_dir: &Path) -> PathBuf {
    state_dir.join("dev-keys.toml")
}

fn random(len: usize) -> String {
    rand::thread_rng().sample_iter(&Alphanumeric).take(len).map(char::from).collect()
}

/// Reads the keys, or generates and stores them (readable by the owner only).
///
/// # Errors
/// When the file cannot be read or written, or is missing a key.
pub fn load_or_create(state_dir: &Path) -> anyhow::Result<DevKeys> {
    let file = path(state_dir);
    if file.exists() {
        let text = std::fs::read_to_string(&file).with_context(|| format!("reading {}", file.display()))?;
        return parse(&text).with_context(|| format!("{} is incomplete; delete it to regenerate", file.display()));
    }
    let keys = DevKeys {
        basic_key: random(32),
        kit_key: random(32),
        access_key_id: format!("DEVAK{}", random(15).to_uppercase()),
        secret_access_key: random(40),
    };
    std::fs::create_dir_all(state_dir).with_context(|| format!("creating {}", state_dir.display()))?;
    write_private(&file, render(&keys).as_bytes())?;
    Ok(keys)
}

/// The file of the development RSA key for the Kit `clientSecret`.
pub fn client_secret_key_path(state_dir: &Path) -> PathBuf {
    state_dir.join("client-secret-key.pem")
}

/// The development RSA key for the Kit `clientSecret` (PKCS#8 PEM, 3072 bits as KooGallery
/// requires), generated once next to the other keys.
///
/// # Errors
/// When the file cannot be read or written, or the key cannot be generated.
pub fn load_or_create_client_secret_key(state_dir: &Path) -> anyhow::Result<String> {
    use rsa::pkcs8::{EncodePrivateKey, LineEnding};
    if let Some(pem) = existing_client_secret_key(state_dir)? {
        return Ok(pem);
    }
    let file = client_secret_key_path(state_dir);
    let key = rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 3072).context("generating the RSA key")?;
    let pem = key.to_pkcs8_pem(LineEnding::LF).context("encoding the RSA key")?.to_string();
    std::fs::create_dir_all(state_dir).with_context(|| format!("creating {}", state_dir.display()))?;
    write_private(&file, pem.as_bytes())?;
    Ok(pem)
}

/// The development RSA key, if `koofill dev` has generated one: `koofill sim` derives the public
/// half from it to encrypt applicationSync's secret as KooGallery would.
///
/// # Errors
/// When the file exists but cannot be read.
pub fn existing_client_secret_key(state_dir: &Path) -> anyhow::Result<Option<String>> {
    let file = client_secret_key_path(state_dir);
    match std::fs::read_to_string(&file) {
        Ok(pem) => Ok(Some(pem)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("reading {}", file.display())),
    }
}

/// The file of the development Ed25519 key that signs license status tokens (PKCS#8 PEM).
pub fn license_signing_key_path(state_dir: &Path) -> PathBuf {
    state_dir.join("license-signing-key.pem")
}

/// Its public half (SPKI PEM): what the seller's software compiles in, and what
/// `koofill license verify --public-key` reads.
pub fn license_public_key_path(state_dir: &Path) -> PathBuf {
    state_dir.join("license-public-key.pem")
}

/// The development license signing key, generated once (readable by the owner only). The public
/// half is written beside it from the private key every time, so the two always match.
///
/// # Errors
/// When a file cannot be read or written, or the stored key is not an Ed25519 key.
pub fn load_or_create_license_signing_key(state_dir: &Path) -> anyhow::Result<String> {
    use koofill_license::token;
    let file = license_signing_key_path(state_dir);
    let pem = match std::fs::read_to_string(&file) {
        Ok(pem) => pem,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let (private, _) = token::generate_pem().context("generating the license signing key")?;
            std::fs::create_dir_all(state_dir).with_context(|| format!("creating {}", state_dir.display()))?;
            write_private(&file, private.as_bytes())?;
            private
        }
        Err(e) => return Err(e).with_context(|| format!("reading {}", file.display())),
    };
    let key = token::parse_signing_key(&pem)
        .with_context(|| format!("{} is not an Ed25519 key; delete it to regenerate", file.display()))?;
    let public = token::public_pem(&key.verifying_key()).context("encoding the license public key")?;
    let public_file = license_public_key_path(state_dir);
    if std::fs::read_to_string(&public_file).ok().as_deref() != Some(public.as_str()) {
        std::fs::write(&public_file, public).with_context(|| format!("writing {}", public_file.display()))?;
    }
    Ok(pem)
}

/// The file of the development bearer token of `/v1/licenses`.
pub fn license_api_token_path(state_dir: &Path) -> PathBuf {
    state_dir.join("license-api-token")
}

/// The development `license.api_token`, generated once (readable by the owner only).
///
/// # Errors
/// When the file cannot be read or written, or is empty.
pub fn load_or_create_license_api_token(state_dir: &Path) -> anyhow::Result<String> {
    load_or_create_token(&license_api_token_path(state_dir), state_dir)
}

/// Where the SSO broker's development key (Ed25519, PKCS#8 PEM) is kept.
pub fn sso_signing_key_path(state_dir: &Path) -> PathBuf {
    state_dir.join("sso-signing-key.pem")
}

/// The SSO broker's development assertion key: read from the state directory, or generated
/// there once (mode 0600).
///
/// # Errors
/// When the file cannot be read or written, or holds no Ed25519 key.
pub fn load_or_create_sso_signing_key(state_dir: &Path) -> anyhow::Result<String> {
    use koofill_license::token;
    let file = sso_signing_key_path(state_dir);
    let pem = match std::fs::read_to_string(&file) {
        Ok(pem) => pem,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let (private, _) = token::generate_pem().context("generating the SSO signing key")?;
            std::fs::create_dir_all(state_dir).with_context(|| format!("creating {}", state_dir.display()))?;
            write_private(&file, private.as_bytes())?;
            private
        }
        Err(e) => return Err(e).with_context(|| format!("reading {}", file.display())),
    };
    token::parse_signing_key(&pem)
        .with_context(|| format!("{} is not an Ed25519 key; delete it to regenerate", file.display()))?;
    Ok(pem)
}

/// The bearer token of the SSO broker's `/v1/sso/redeem` and `/v1/sso/refresh` in development.
///
/// # Errors
/// As [`load_or_create_usage_api_token`].
pub fn load_or_create_sso_api_token(state_dir: &Path) -> anyhow::Result<String> {
    load_or_create_token(&state_dir.join("sso-api-token"), state_dir)
}

/// The development `metering.api_token` (`POST /v1/usage`), generated once, owner-only: a token
/// of its own, since the license one ships inside License software.
///
/// # Errors
/// When the file cannot be read or written, or is empty.
pub fn load_or_create_usage_api_token(state_dir: &Path) -> anyhow::Result<String> {
    load_or_create_token(&state_dir.join("usage-api-token"), state_dir)
}

fn load_or_create_token(file: &Path, state_dir: &Path) -> anyhow::Result<String> {
    let file = file.to_owned();
    match std::fs::read_to_string(&file) {
        Ok(text) => {
            let token = text.trim().to_owned();
            anyhow::ensure!(!token.is_empty(), "{} is empty; delete it to regenerate", file.display());
            Ok(token)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let token = random(40);
            std::fs::create_dir_all(state_dir).with_context(|| format!("creating {}", state_dir.display()))?;
            write_private(&file, token.as_bytes())?;
            Ok(token)
        }
        Err(e) => Err(e).with_context(|| format!("reading {}", file.display())),
    }
}

/// Writes a file readable by its owner only, from its creation on; never replaces one.
pub(crate) fn write_private(file: &Path, content: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut f = options.open(file).with_context(|| format!("creating {}", file.display()))?;
    f.write_all(content).with_context(|| format!("writing {}", file.display()))
}

fn render(keys: &DevKeys) -> String {
    format!(
        "# Development keys generated by `koofill dev`. Not for production.\n[koogallery]\nbasic_key = \"{}\"\nkit_key = \"{}\"\naccess_key_id = \"{}\"\nsecret_access_key = \"{}\"\n",
        keys.basic_key, keys.kit_key, keys.access_key_id, keys.secret_access_key
    )
}

fn parse(text: &str) -> Option<DevKeys> {
    let get = |name: &str| {
        text.lines().find_map(|line| {
            let (k, v) = line.split_once('=')?;
            (k.trim() == name).then(|| v.trim().trim_matches('"').to_owned())
        })
    };
    Some(DevKeys {
        basic_key: get("basic_key")?,
        kit_key: get("kit_key")?,
        access_key_id: get("access_key_id")?,
        secret_access_key: get("secret_access_key")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_once_then_reused() {
        let dir = std::env::temp_dir().join(format!("koofill-devkeys-{}", random(8)));
        let first = load_or_create(&dir).unwrap();
        let second = load_or_create(&dir).unwrap();
        assert_eq!(first, second);
        assert_eq!(first.basic_key.len(), 32);
        assert_ne!(first.basic_key, first.kit_key);
        assert!(!format!("{first:?}").contains(&first.basic_key));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn the_license_key_and_api_token_are_generated_once_private_and_matching() {
        use koofill_license::token;
        let dir = tempfile::tempdir().unwrap();
        let first = load_or_create_license_signing_key(dir.path()).unwrap();
        assert_eq!(load_or_create_license_signing_key(dir.path()).unwrap(), first);
        let public = std::fs::read_to_string(license_public_key_path(dir.path())).unwrap();
        let key = token::parse_signing_key(&first).unwrap();
        assert_eq!(token::parse_verifying_key(&public).unwrap(), key.verifying_key());
        // A lost public half is written again from the private key.
        std::fs::remove_file(license_public_key_path(dir.path())).unwrap();
        load_or_create_license_signing_key(dir.path()).unwrap();
        assert_eq!(std::fs::read_to_string(license_public_key_path(dir.path())).unwrap(), public);

        let api_token = load_or_create_license_api_token(dir.path()).unwrap();
        assert_eq!(api_token.len(), 40);
        assert_eq!(load_or_create_license_api_token(dir.path()).unwrap(), api_token);
        #[cfg(unix)]
        for file in [license_signing_key_path(dir.path()), license_api_token_path(dir.path())] {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{}", file.display());
        }
    }
}
