//! Secrets given inline, as a file path or as an environment variable name, resolved at load
//! into [`CallbackSource`]s. Values are kept in [`Secret`] so they never print.

use std::path::Path;

use anyhow::{bail, Context as _};
use vodbridge_core::{Provider, Secret};
use vodbridge_ingress::http::{CallbackSource, SourceAuth, VolcengineAuth};

use super::SourceConfig;

/// Build the receiver's view of every source, reading secret files and variables.
pub fn resolve_sources(sources: &[SourceConfig]) -> anyhow::Result<Vec<CallbackSource>> {
    sources
        .iter()
        .enumerate()
        .map(|(i, s)| resolve(i, s))
        .collect()
}

fn resolve(index: usize, s: &SourceConfig) -> anyhow::Result<CallbackSource> {
    let at = format!("sources[{index}] (`{}`)", s.name);
    let token = one_secret(
        &at,
        "token",
        s.token.as_ref(),
        s.token_file.as_deref(),
        s.token_env.as_deref(),
    )?;
    let sign_key = one_secret(
        &at,
        "sign_key",
        s.sign_key.as_ref(),
        s.sign_key_file.as_deref(),
        s.sign_key_env.as_deref(),
    )?;
    let mut keys: Vec<Secret> = s.signing_keys.clone();
    if let Some(path) = &s.signing_keys_file {
        let text = read_file(&at, "signing_keys_file", path)?;
        keys.extend(
            text.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(Secret::new),
        );
    }
    if let Some(var) = &s.signing_keys_env {
        let text = read_env(&at, "signing_keys_env", var)?;
        keys.extend(
            text.split(',')
                .map(str::trim)
                .filter(|k| !k.is_empty())
                .map(Secret::new),
        );
    }
    if keys.iter().any(Secret::is_empty) {
        bail!("{at}: signing_keys contains an empty key");
    }
    let provider: Provider = s.provider.into();
    let volcengine = match (provider, keys.is_empty(), &s.callback_url) {
        (Provider::Volcengine, false, Some(url)) => Some(VolcengineAuth {
            callback_url: url.clone(),
            keys,
        }),
        (Provider::Volcengine, false, None) => {
            bail!(
                "{at}: callback_url is required with signing_keys (it is part of the signed text)"
            )
        }
        (Provider::Volcengine, true, _) => None,
        (_, false, _) => bail!("{at}: signing_keys apply to provider volcengine only"),
        (_, true, Some(_)) => bail!("{at}: callback_url applies to provider volcengine only"),
        (_, true, None) => None,
    };
    if sign_key.is_some() && provider != Provider::Tencent {
        bail!("{at}: sign_key applies to provider tencent only");
    }
    let mut source = CallbackSource::new(s.name.clone(), provider);
    if let Some(ce) = &s.ce_source {
        if ce.trim().is_empty() {
            bail!("{at}: ce_source must not be empty");
        }
        source.ce_source = ce.clone();
    }
    source.auth = SourceAuth {
        token,
        tencent_sign_key: sign_key,
        volcengine,
        max_clock_skew: s.max_clock_skew,
    };
    Ok(source)
}

/// At most one of `key`, `key_file`, `key_env`; an empty value is an error (it would accept
/// anything or nothing, never what the operator meant).
fn one_secret(
    at: &str,
    key: &str,
    inline: Option<&Secret>,
    file: Option<&Path>,
    env: Option<&str>,
) -> anyhow::Result<Option<Secret>> {
    let given =
        usize::from(inline.is_some()) + usize::from(file.is_some()) + usize::from(env.is_some());
    if given > 1 {
        bail!("{at}: give only one of {key}, {key}_file, {key}_env");
    }
    let value = match (inline, file, env) {
        (Some(s), _, _) => s.clone(),
        (_, Some(path), _) => Secret::new(read_file(at, &format!("{key}_file"), path)?.trim()),
        (_, _, Some(var)) => Secret::new(read_env(at, &format!("{key}_env"), var)?.trim()),
        _ => return Ok(None),
    };
    if value.is_empty() {
        bail!("{at}: {key} is empty");
    }
    Ok(Some(value))
}

fn read_file(at: &str, key: &str, path: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path)
        .with_context(|| format!("{at}: {key}: cannot read {}", path.display()))
}

fn read_env(at: &str, key: &str, var: &str) -> anyhow::Result<String> {
    std::env::var(var)
        .with_context(|| format!("{at}: {key}: environment variable {var} is not set"))
}
