//! Where settings come from: flags, then environment, then the cse config file, then the AWS
//! shared files (`~/.aws/credentials`, `~/.aws/config`), the way the AWS tools read them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use zeroize::Zeroizing;

use crate::cli::{AddressingStyle, S3Args};
use crate::error::Failure;

/// The cse config file (`~/.config/cse/config.toml`). Every field is optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub public_key: Option<PathBuf>,
    /// Several recipients: `["alice.pem", "bob=bob.pem"]` (added to `public_key`).
    #[serde(default)]
    pub public_keys: Vec<String>,
    pub private_key: Option<PathBuf>,
    pub key_namespace: Option<String>,
    pub key_name: Option<String>,
    pub padding: Option<String>,
    pub endpoint_url: Option<String>,
    pub profile: Option<String>,
    pub region: Option<String>,
    pub addressing_style: Option<String>,
    pub part_size: Option<String>,
    pub concurrency: Option<usize>,
}

/// Reads an environment variable, treating empty as unset.
pub fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// Where settings read environment variables: [`env`], or a table in tests.
pub type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

fn home() -> Option<PathBuf> {
    env("HOME").map(PathBuf::from)
}

impl FileConfig {
    /// Loads `$CSE_CONFIG`, else `$XDG_CONFIG_HOME/cse/config.toml`, else
    /// `~/.config/cse/config.toml`; a missing default file is an empty config.
    pub fn load() -> Result<Self, Failure> {
        let (path, explicit) = match env("CSE_CONFIG") {
            Some(p) => (PathBuf::from(p), true),
            None => match env("XDG_CONFIG_HOME")
                .map(PathBuf::from)
                .or_else(|| home().map(|h| h.join(".config")))
            {
                Some(dir) => (dir.join("cse").join("config.toml"), false),
                None => return Ok(Self::default()),
            },
        };
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !explicit => {
                return Ok(Self::default());
            }
            Err(e) => return Err(Failure::config(format!("{}: {e}", path.display()))),
        };
        let mut cfg: Self = toml::from_str(&text)
            .map_err(|e| Failure::config(format!("{}: {e}", path.display())))?;
        // Relative key paths are relative to the file; `~/` is the home directory.
        let base = path.parent().unwrap_or(Path::new("."));
        for key in [&mut cfg.public_key, &mut cfg.private_key]
            .into_iter()
            .flatten()
        {
            *key = expand(key, base);
        }
        for value in &mut cfg.public_keys {
            *value = match crate::keys::recipient(value) {
                (Some(name), path) => format!("{name}={}", expand(&path, base).display()),
                (None, path) => expand(&path, base).display().to_string(),
            };
        }
        Ok(cfg)
    }
}

fn expand(p: &Path, base: &Path) -> PathBuf {
    if let (Ok(rest), Some(h)) = (p.strip_prefix("~"), home()) {
        return h.join(rest);
    }
    if p.is_relative() {
        base.join(p)
    } else {
        p.to_path_buf()
    }
}

/// One profile of an AWS shared file: top-level keys and sub-sections (`s3 = ...`).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Profile {
    pub values: BTreeMap<String, String>,
    pub sections: BTreeMap<String, BTreeMap<String, String>>,
}

impl Profile {
    fn get(&self, key: &str) -> Option<&str> {
        self.values
            .get(key)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }
    fn sub(&self, section: &str, key: &str) -> Option<&str> {
        self.sections
            .get(section)
            .and_then(|s| s.get(key))
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }
}

/// Parses an AWS shared file. In the config file, profiles are `[profile NAME]` (and
/// `[default]`); in the credentials file, `[NAME]`. Indented lines after `key =` with no value
/// form a sub-section.
pub fn parse_shared_file(text: &str, config_file: bool) -> BTreeMap<String, Profile> {
    let mut profiles: BTreeMap<String, Profile> = BTreeMap::new();
    let mut current: Option<String> = None;
    let mut sub: Option<String> = None;
    for raw in text.lines() {
        let line = raw.trim_end();
        let trimmed = line.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with(';') {
            continue;
        }
        if let Some(name) = trimmed.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
            let name = name.trim();
            let name = if config_file {
                match name.strip_prefix("profile ") {
                    Some(n) => Some(n.trim()),
                    None if name == "default" => Some("default"),
                    None => None, // sso-session, services...: not profiles
                }
            } else {
                Some(name)
            };
            current = name.map(str::to_string);
            if let Some(n) = &current {
                profiles.entry(n.clone()).or_default();
            }
            sub = None;
            continue;
        }
        let Some(profile) = current.as_ref().and_then(|n| profiles.get_mut(n)) else {
            continue;
        };
        let Some((key, value)) = trimmed.split_once('=') else {
            continue;
        };
        let (key, value) = (key.trim().to_ascii_lowercase(), value.trim().to_string());
        let indented = line.starts_with(' ') || line.starts_with('\t');
        match (&sub, indented) {
            (Some(s), true) => {
                if let Some(section) = profile.sections.get_mut(s) {
                    section.insert(key, value);
                }
            }
            _ if value.is_empty() => {
                profile.sections.entry(key.clone()).or_default();
                sub = Some(key);
            }
            _ => {
                sub = None;
                profile.values.insert(key, value);
            }
        }
    }
    profiles
}

fn load_shared(
    env: Env<'_>,
    env_var: &str,
    default: &str,
    config_file: bool,
) -> BTreeMap<String, Profile> {
    let path = env(env_var)
        .map(PathBuf::from)
        .or_else(|| env("HOME").map(|h| PathBuf::from(h).join(".aws").join(default)));
    path.and_then(|p| std::fs::read_to_string(p).ok())
        .map(|t| parse_shared_file(&t, config_file))
        .unwrap_or_default()
}

/// Resolves the S3 client settings: flags, environment, ~/.aws files, then cse's config file.
pub fn s3_config(
    global: &S3Args,
    file: &FileConfig,
    env: Env<'_>,
) -> Result<cse_s3::Config, Failure> {
    // A flag decides how bodies are signed; otherwise the S3 layer's default for the scheme.
    let sign_payload = match (global.unsigned_payload, global.signed_payload) {
        (true, _) => Some(false),
        (_, true) => Some(true),
        _ => None,
    };
    let max_attempts = global.max_attempts.unwrap_or(6);
    let profile_explicit = global.profile.clone().or_else(|| env("AWS_PROFILE"));
    let profile_name = profile_explicit
        .clone()
        .or_else(|| file.profile.clone())
        .or_else(|| env("AWS_DEFAULT_PROFILE"))
        .unwrap_or_else(|| "default".into());
    let creds_file = load_shared(env, "AWS_SHARED_CREDENTIALS_FILE", "credentials", false);
    let config_file = load_shared(env, "AWS_CONFIG_FILE", "config", true);
    let from_creds = creds_file.get(&profile_name);
    let from_config = config_file.get(&profile_name);
    let named_profile_exists = from_creds.is_some() || from_config.is_some();
    if global.profile.is_some() && !named_profile_exists {
        return Err(Failure::config(format!(
            "profile {profile_name:?} is in neither ~/.aws/credentials nor ~/.aws/config"
        )));
    }
    let lookup = |key: &str| {
        from_creds
            .and_then(|p| p.get(key))
            .or_else(|| from_config.and_then(|p| p.get(key)))
            .map(str::to_string)
    };

    // Environment keys win unless a profile was named on the command line, as with the AWS CLI.
    let env_keys = match (env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY")) {
        (Some(id), Some(secret)) if global.profile.is_none() => Some((id, secret)),
        _ => None,
    };
    let credentials = match env_keys {
        Some((id, secret)) => cse_s3::Credentials {
            access_key_id: id,
            secret_access_key: Zeroizing::new(secret),
            session_token: env("AWS_SESSION_TOKEN").map(Zeroizing::new),
        },
        None => cse_s3::Credentials {
            access_key_id: lookup("aws_access_key_id").unwrap_or_default(),
            secret_access_key: Zeroizing::new(lookup("aws_secret_access_key").unwrap_or_default()),
            session_token: lookup("aws_session_token").map(Zeroizing::new),
        },
    };
    if credentials.access_key_id.is_empty() || credentials.secret_access_key.is_empty() {
        return Err(Failure::config(format!(
            "no S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or put \
             aws_access_key_id and aws_secret_access_key under [{profile_name}] in \
             ~/.aws/credentials"
        )));
    }

    let region = global
        .region
        .clone()
        .or_else(|| env("AWS_REGION"))
        .or_else(|| env("AWS_DEFAULT_REGION"))
        .or_else(|| file.region.clone())
        .or_else(|| {
            from_config
                .and_then(|p| p.get("region"))
                .map(str::to_string)
        })
        .unwrap_or_else(|| "us-east-1".into());
    let profile_endpoint =
        from_config.and_then(|p| p.sub("s3", "endpoint_url").or(p.get("endpoint_url")));
    let endpoint = global
        .endpoint_url
        .clone()
        .or_else(|| env("AWS_ENDPOINT_URL_S3"))
        .or_else(|| env("AWS_ENDPOINT_URL"))
        .or_else(|| file.endpoint_url.clone())
        .or_else(|| profile_endpoint.map(str::to_string));
    let custom = endpoint.is_some();
    let endpoint = endpoint.unwrap_or_else(|| format!("https://s3.{region}.amazonaws.com"));
    let style = match global.addressing_style {
        Some(s) => Some(s),
        None => {
            let named = file
                .addressing_style
                .as_deref()
                .or_else(|| from_config.and_then(|p| p.sub("s3", "addressing_style")));
            match named {
                Some("path") => Some(AddressingStyle::Path),
                Some("virtual") => Some(AddressingStyle::Virtual),
                Some("auto") | None => None,
                Some(other) => {
                    return Err(Failure::config(format!(
                        "addressing_style {other:?}: use path or virtual"
                    )));
                }
            }
        }
    };
    // S3-compatible stores are reached by path; AWS itself by virtual host.
    let addressing = match style {
        Some(AddressingStyle::Path) => cse_s3::Addressing::Path,
        Some(AddressingStyle::Virtual) => cse_s3::Addressing::VirtualHost,
        None if custom => cse_s3::Addressing::Path,
        None => cse_s3::Addressing::VirtualHost,
    };
    // A site CA, as the AWS tools find it: the flag, AWS_CA_BUNDLE, then the profile's ca_bundle.
    let ca_path = global
        .ca_bundle
        .clone()
        .or_else(|| env("AWS_CA_BUNDLE").map(PathBuf::from))
        .or_else(|| {
            from_config
                .and_then(|p| p.get("ca_bundle"))
                .map(|v| expand(Path::new(v), Path::new(".")))
        });
    let ca_bundle = ca_path
        .map(|p| {
            std::fs::read(&p)
                .map_err(|e| Failure::config(format!("CA bundle {}: {e}", p.display())))
        })
        .transpose()?;
    Ok(cse_s3::Config {
        unsigned_payload: sign_payload.map_or_else(
            || cse_s3::Config::unsigned_payload_by_default(&endpoint),
            |sign| !sign,
        ),
        endpoint,
        region,
        addressing,
        credentials,
        retry: cse_s3::RetryPolicy {
            max_attempts: max_attempts.max(1),
            ..cse_s3::RetryPolicy::default()
        },
        ca_bundle,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_file_profiles_and_s3_sections() {
        let text = "\
[default]
region = eu-west-1
# comment
[profile work]
region = ap-northeast-1
endpoint_url = https://generic.example
s3 =
  endpoint_url = https://s3.example
  addressing_style = path
output = json
[sso-session x]
region = nowhere
";
        let p = parse_shared_file(text, true);
        assert_eq!(p.len(), 2);
        let work = &p["work"];
        assert_eq!(work.get("region"), Some("ap-northeast-1"));
        assert_eq!(work.sub("s3", "endpoint_url"), Some("https://s3.example"));
        assert_eq!(work.sub("s3", "addressing_style"), Some("path"));
        assert_eq!(work.get("output"), Some("json"));
        assert_eq!(work.get("endpoint_url"), Some("https://generic.example"));
        assert_eq!(p["default"].get("region"), Some("eu-west-1"));
    }

    #[test]
    fn credentials_file_names_profiles_plainly() {
        let text = "[default]\naws_access_key_id=A\naws_secret_access_key = B\n[work]\naws_access_key_id = C\n";
        let p = parse_shared_file(text, false);
        assert_eq!(p["default"].get("aws_secret_access_key"), Some("B"));
        assert_eq!(p["work"].get("aws_access_key_id"), Some("C"));
    }
}
