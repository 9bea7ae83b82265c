//! Recognising credentials: the one detector behind `credential-in-config` (a value of
//! weir.toml) and `credential-in-flow` (a literal in a `.flow` file), and the redaction that
//! keeps a credential found in either out of every rendering.
//!
//! Nothing here ever copies a credential into a message: callers get a description of what
//! was found ("a GitHub token") and where it is, and show at most [`visible_prefix`].

use std::ops::Range;
use weir_diagnostics::{Code, Diagnostic};

/// What a credential-looking string was taken for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// In words, for the message: "a GitHub token".
    pub what: &'static str,
    /// Byte range of the sensitive part inside the string, when it is only part of it (the
    /// password of a URL); `None` means the whole string.
    pub within: Option<Range<usize>>,
}

/// A credential found inside a longer text (a template's text, a comment).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Located {
    /// In words, for the message: "a GitHub token".
    pub what: &'static str,
    /// Byte range of the credential in the text scanned.
    pub range: Range<usize>,
}

/// Known token prefixes and what they are. Longer prefixes of one family come first.
const PREFIXES: &[(&str, &str)] = &[
    ("sk-ant-", "an Anthropic API key"),
    ("sk-proj-", "an OpenAI API key"),
    ("sk-", "an OpenAI-style API key"),
    ("sk_live_", "a Stripe secret key"),
    ("sk_test_", "a Stripe secret key"),
    ("rk_live_", "a Stripe restricted key"),
    ("rk_test_", "a Stripe restricted key"),
    ("whsec_", "a Stripe webhook secret"),
    ("github_pat_", "a GitHub token"),
    ("ghp_", "a GitHub token"),
    ("gho_", "a GitHub token"),
    ("ghu_", "a GitHub token"),
    ("ghs_", "a GitHub token"),
    ("ghr_", "a GitHub token"),
    ("glpat-", "a GitLab token"),
    ("xoxb-", "a Slack token"),
    ("xoxp-", "a Slack token"),
    ("xoxa-", "a Slack token"),
    ("xoxs-", "a Slack token"),
    ("xoxe-", "a Slack token"),
    ("xapp-", "a Slack app token"),
    ("AKIA", "an AWS access key id"),
    ("ASIA", "an AWS access key id"),
    ("AIza", "a Google API key"),
    ("ya29.", "a Google OAuth token"),
    ("SG.", "a SendGrid key"),
    ("hf_", "a Hugging Face token"),
    ("npm_", "an npm token"),
    ("pypi-", "a PyPI token"),
    ("dop_v1_", "a DigitalOcean token"),
    ("shpat_", "a Shopify token"),
    ("shpss_", "a Shopify token"),
    ("lin_api_", "a Linear API key"),
    ("sntrys_", "a Sentry token"),
    ("sq0atp-", "a Square token"),
    ("sq0csp-", "a Square token"),
];

/// Key names that say "this is a credential" wherever they appear.
const CREDENTIAL_KEYS: &[&str] = &[
    "password",
    "passwd",
    "pass",
    "token",
    "secret",
    "api_key",
    "apikey",
    "access_key",
    "secret_key",
    "private_key",
    "client_secret",
    "credentials",
    "credential",
    "bearer",
    "authorization",
];

/// Header names (lower case, `-` as `_`, without `x_`) that carry a credential besides
/// those [`is_credential_key`] knows.
const CREDENTIAL_HEADERS: &[&str] = &["cookie", "set_cookie", "auth", "auth_key", "session", "session_id"];

/// Words of an environment variable name that say it holds a credential (design.md §3).
const CREDENTIAL_ENV_WORDS: &[&str] =
    &["PASSWORD", "PASSWD", "PASS", "SECRET", "TOKEN", "KEY", "APIKEY", "CREDENTIALS", "PASSPHRASE"];

/// Base64 openings of ordinary media (PNG, JPEG, GIF, WebP, PDF, SVG, XML, ZIP, MP4):
/// inlined images and documents, not keys.
const MEDIA_BASE64: &[&str] =
    &["iVBORw0KGgo", "/9j/", "R0lGOD", "UklGR", "JVBERi0", "PHN2Zy", "PD94bWwg", "UEsDB", "AAAAIGZ0eXA"];

/// Openings of digests written as text: subresource integrity (`sha384-…`).
const DIGEST_PREFIXES: &[&str] = &["sha256-", "sha384-", "sha512-"];

/// True when a key's name says it holds a credential (`password`, `api_key`, `github_token`).
pub fn is_credential_key(key: &str) -> bool {
    let key = key.to_ascii_lowercase().replace('-', "_");
    CREDENTIAL_KEYS.iter().any(|k| key == *k || key.ends_with(&format!("_{k}")))
}

/// True when an HTTP header's name says its value is a credential: `Authorization`,
/// `Proxy-Authorization`, `Cookie`, `X-Api-Key`, `X-Auth-Token`, `Private-Token`, ….
pub fn is_credential_header(name: &str) -> bool {
    let lower = name.to_ascii_lowercase().replace('-', "_");
    let bare = lower.strip_prefix("x_").unwrap_or(&lower);
    is_credential_key(bare) || CREDENTIAL_HEADERS.contains(&bare)
}

/// True when an environment variable's name has a word PASSWORD, SECRET, TOKEN or KEY (or
/// a close kin) in it: `DB_PASSWORD`, `API_KEY`, `GITHUB_TOKEN`; not `TOKENIZERS_PARALLELISM`
/// or `KEYBOARD`.
pub fn is_credential_env(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    upper.split(['_', '-', '.']).any(|word| CREDENTIAL_ENV_WORDS.contains(&word))
}

/// True when a literal under a credential-named key is still not a credential: empty, a
/// bool or number word, or a file path (`SSH_KEY_PATH = "/home/ci/.ssh/id"`).
pub fn is_harmless_literal(value: &str) -> bool {
    let value = value.trim();
    value.is_empty()
        || matches!(
            value.to_ascii_lowercase().as_str(),
            "true" | "false" | "yes" | "no" | "on" | "off" | "none" | "null"
        )
        || value.chars().all(|c| c.is_ascii_digit() || c == '.' || c == '_')
        || value.starts_with(['/', '~'])
        || value.starts_with("./")
}

/// How much of a credential may be shown: its first four characters when it is long enough
/// (16 or more) for that to give nothing away, else nothing.
pub fn visible_prefix(secret: &str) -> &str {
    if secret.chars().count() >= 16 {
        let end = secret.char_indices().nth(4).map_or(secret.len(), |(i, _)| i);
        &secret[..end]
    } else {
        ""
    }
}

/// A token character: what keys, tokens and base64 are made of.
fn token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '+' | '/' | '=')
}

/// Shannon entropy in bits per char.
fn entropy(text: &str) -> f64 {
    let mut counts = [0u32; 128];
    let mut total = 0u32;
    for b in text.bytes().filter(u8::is_ascii) {
        counts[usize::from(b)] += 1;
        total += 1;
    }
    if total == 0 {
        return 0.0;
    }
    let total = f64::from(total);
    counts.iter().filter(|c| **c > 0).map(|c| f64::from(*c) / total).map(|p| -p * p.log2()).sum()
}

/// The password of `scheme://user:password@host/…`, as a byte range of `text`.
fn url_password(text: &str) -> Option<Range<usize>> {
    let authority_start = text.find("://")? + 3;
    let rest = &text[authority_start..];
    let authority_len = rest
        .find(|c: char| matches!(c, '/' | '?' | '#' | '"' | '\'') || c.is_whitespace())
        .unwrap_or(rest.len());
    let authority = &rest[..authority_len];
    let at = authority.rfind('@')?;
    let colon = authority[..at].find(':')?;
    (colon + 1 < at).then(|| authority_start + colon + 1..authority_start + at)
}

/// A DNS name (`orders-db-3.c9akciq32.eu-west-1.rds.amazonaws.com`): dotted labels of
/// letters, digits and inner hyphens, ending in a label of letters. Long host names have
/// the entropy of a token, but they are addresses, not credentials.
fn is_host_name(text: &str) -> bool {
    let labels: Vec<&str> = text.split('.').collect();
    labels.len() >= 3
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
        && labels.last().is_some_and(|tld| tld.chars().all(|c| c.is_ascii_alphabetic()))
}

/// What, if anything, a whole value (of weir.toml) looks like a credential for. Only strong
/// signals count: known token prefixes, private keys, passwords in URLs, Authorization
/// values, and long random strings; names, URLs, paths, sentences and ids are left alone.
pub fn credential(text: &str) -> Option<Finding> {
    let whole = |what| Some(Finding { what, within: None });
    let trimmed = text.trim();
    if trimmed.contains("-----BEGIN") && trimmed.contains("PRIVATE KEY") {
        return whole("a private key");
    }
    if let Some(range) = url_password(trimmed) {
        let offset = text.len() - text.trim_start().len();
        return Some(Finding {
            what: "a password in a URL",
            within: Some(range.start + offset..range.end + offset),
        });
    }
    let lower = trimmed.to_ascii_lowercase();
    for scheme in ["bearer ", "basic ", "token "] {
        if let Some(rest) = lower.strip_prefix(scheme)
            && rest.trim().len() >= 8
            && !rest.trim().contains(' ')
        {
            return whole("an Authorization header value");
        }
    }
    if trimmed.chars().any(char::is_whitespace) || !trimmed.chars().all(token_char) {
        return None;
    }
    for (prefix, what) in PREFIXES {
        if trimmed.starts_with(prefix) && trimmed.len() >= prefix.len() + 12 {
            return whole(what);
        }
    }
    let letters = trimmed.chars().any(|c| c.is_ascii_alphabetic());
    let digits = trimmed.chars().any(|c| c.is_ascii_digit());
    if !letters || !digits || trimmed.starts_with(['/', '.']) || trimmed.contains("://") {
        return None;
    }
    if trimmed.len() >= 32 && trimmed.chars().all(|c| c.is_ascii_hexdigit()) {
        return whole("a hex-encoded key");
    }
    if trimmed.len() >= 24 && entropy(trimmed) >= 4.0 && !is_host_name(trimmed) {
        return whole("a high-entropy token");
    }
    None
}

// ---------------------------------------------------------------- credentials inside text

/// Every credential inside `text`: a line of prose, a URL, a header value, a comment.
/// Looser than [`credential`] about where a credential sits (anywhere in the text) and
/// stricter about what counts as random: a `.flow` file is full of ids that are not
/// secrets, so hex digests (git SHAs, sha256, UUIDs), host names, paths, slugs, timestamps,
/// inlined images and base64 of readable text are left alone. Ranges are in source order
/// and never overlap.
pub fn scan(text: &str) -> Vec<Located> {
    let mut found: Vec<Located> = Vec::new();
    // The shortest credential weir knows is longer than this.
    if text.len() < 8 {
        return found;
    }
    let mut push = |what: &'static str, range: Range<usize>| {
        if !range.is_empty() && !found.iter().any(|f| f.range.start < range.end && range.start < f.range.end)
        {
            found.push(Located { what, range });
        }
    };
    private_keys(text, &mut push);
    for at in match_indices(text, "://") {
        let start = text[..at].rfind(|c: char| !c.is_ascii_alphanumeric() && c != '+').map_or(0, |i| i + 1);
        if let Some(range) = url_password(&text[start..]) {
            push("a password in a URL", start + range.start..start + range.end);
        }
        if let Some(range) = webhook_url_token(text, at + 3) {
            push("a webhook URL with its token", range);
        }
    }
    let runs = runs(text);
    authorization_values(text, &runs, &mut push);
    for &(start, run) in &runs {
        // The content of a `data:…;base64,` URI is inlined media, not a key.
        if text[..start].ends_with("base64,") {
            continue;
        }
        for (offset, what) in token_findings(run) {
            push(what, start + offset.start..start + offset.end);
        }
    }
    found.sort_by_key(|f| f.range.start);
    found
}

/// Byte offsets of every occurrence of `needle`.
fn match_indices(text: &str, needle: &str) -> Vec<usize> {
    text.match_indices(needle).map(|(i, _)| i).collect()
}

/// `-----BEGIN … PRIVATE KEY-----` through its `-----END … -----` (or the end of the text).
fn private_keys(text: &str, push: &mut impl FnMut(&'static str, Range<usize>)) {
    for begin in match_indices(text, "-----BEGIN ") {
        let header_end = text[begin..].find('\n').map_or(text.len(), |i| begin + i);
        let header = &text[begin..header_end];
        if !header.contains("PRIVATE KEY") {
            continue;
        }
        let end = text[begin..]
            .find("-----END ")
            .map(|i| begin + i)
            .and_then(|end| text[end + 9..].find("-----").map(|i| end + 9 + i + 5))
            .unwrap_or(text.len());
        push("a private key", begin..end);
    }
}

/// The token part of a Slack or Discord incoming-webhook URL whose host starts at `host`:
/// whoever has the URL can post as the integration.
fn webhook_url_token(text: &str, host: usize) -> Option<Range<usize>> {
    let rest = &text[host..];
    let path = ["hooks.slack.com/services/", "discord.com/api/webhooks/", "discordapp.com/api/webhooks/"]
        .into_iter()
        .find_map(|prefix| rest.strip_prefix(prefix).map(|_| host + prefix.len()))?;
    let len = text[path..]
        .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '/' | '_' | '-')))
        .unwrap_or(text.len() - path);
    (len >= 20).then_some(path..path + len)
}

/// `Bearer X`, `Basic X`, `Token X` where X looks like a credential, not a word.
fn authorization_values(
    text: &str,
    runs: &[(usize, &str)],
    push: &mut impl FnMut(&'static str, Range<usize>),
) {
    for pair in runs.windows(2) {
        let [(start, run), (value_start, value)] = pair else { continue };
        // The run ends with the scheme as a word of its own (`Bearer`, `/x/Basic`).
        let ends_with_scheme = ["bearer", "basic", "token"].iter().any(|scheme| {
            run.len() >= scheme.len()
                && run[run.len() - scheme.len()..].eq_ignore_ascii_case(scheme)
                && !run[..run.len() - scheme.len()].ends_with(|c: char| c.is_ascii_alphanumeric())
        });
        if !ends_with_scheme || &text[start + run.len()..*value_start] != " " {
            continue;
        }
        let value = value.trim_end_matches('.');
        let shaped = value.chars().any(|c| c.is_ascii_digit() || matches!(c, '=' | '+' | '/' | '_' | '.'))
            || value.chars().skip(1).any(|c| c.is_ascii_uppercase());
        if value.len() >= 8 && shaped {
            push("an Authorization header value", *value_start..value_start + value.len());
        }
    }
}

/// Maximal runs of token characters with their byte offsets.
fn runs(text: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in text.char_indices().chain(std::iter::once((text.len(), ' '))) {
        match (token_char(c), start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                out.push((s, &text[s..i]));
                start = None;
            }
            _ => {}
        }
    }
    out
}

/// Findings in one run of token characters, as ranges of the run. A run may be a query
/// parameter (`token=…`), a path (`/repos/ghp_…/x`) or a bare token.
fn token_findings(run: &str) -> Vec<(Range<usize>, &'static str)> {
    // `name=value`: look at the value (a query parameter, a `KEY=value` pair).
    if let Some(eq) = run.find('=')
        && eq > 0
        && run[..eq].chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        && !run[eq + 1..].chars().all(|c| c == '=')
    {
        return token_findings(&run[eq + 1..])
            .into_iter()
            .map(|(r, what)| (r.start + eq + 1..r.end + eq + 1, what))
            .collect();
    }
    let token = run.trim_end_matches('.');
    if token.len() < 15 || inline_content(token) {
        return Vec::new();
    }
    if let Some(what) = token_credential(token) {
        return vec![(0..token.len(), what)];
    }
    // A path: look at each segment on its own. Inside anything else (a base64 blob, a
    // relative path) a `/` is one more character, and the whole was judged above; only a
    // known prefix is looked for in its segments.
    if token.contains('/') {
        let path = token.starts_with(['/', '.', '~']);
        let mut out = Vec::new();
        let mut offset = 0;
        for segment in token.split('/') {
            let trimmed = segment.trim_end_matches('.');
            if inline_content(trimmed) {
                // The rest of the run is that content, `/`s included.
                break;
            }
            let what = if trimmed.is_empty() {
                None
            } else if path {
                token_credential(trimmed)
            } else {
                prefixed(trimmed).or_else(|| jwt(trimmed))
            };
            if let Some(what) = what {
                out.push((offset..offset + trimmed.len(), what));
            }
            offset += segment.len() + 1;
        }
        return out;
    }
    Vec::new()
}

/// What a single token is, if it is a credential.
fn token_credential(token: &str) -> Option<&'static str> {
    // Shorter than any known prefix with its 12 characters, and than a random token.
    if token.len() < 15 {
        return None;
    }
    if let Some(what) = prefixed(token).or_else(|| jwt(token)) {
        return Some(what);
    }
    if token.starts_with(['/', '.', '~']) || is_host_name(token) {
        return None;
    }
    random(token).then_some("a high-entropy token")
}

/// A known token prefix followed by enough characters that are not a word
/// (`sk-learn-extensions` is a package, `sk-9fQx…` a key).
fn prefixed(token: &str) -> Option<&'static str> {
    if token.len() == 20 && (token.starts_with("AKIA") || token.starts_with("ASIA")) {
        return token[4..]
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
            .then_some("an AWS access key id");
    }
    let (prefix, what) = PREFIXES.iter().find(|(prefix, _)| token.starts_with(prefix))?;
    let rest = &token[prefix.len()..];
    let shaped = rest.chars().any(|c| c.is_ascii_digit())
        || (rest.chars().any(|c| c.is_ascii_uppercase()) && rest.chars().any(|c| c.is_ascii_lowercase()));
    (rest.len() >= 12 && shaped && !prefix.starts_with("AKIA") && !prefix.starts_with("ASIA"))
        .then_some(*what)
}

/// A JSON Web Token: three base64url parts, the first a JSON header (`eyJ…`).
fn jwt(token: &str) -> Option<&'static str> {
    let parts: Vec<&str> = token.split('.').collect();
    let base64url = |p: &str| p.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    (parts.len() == 3
        && parts[0].starts_with("eyJ")
        && parts[0].len() >= 10
        && parts[1].len() >= 10
        && parts.iter().all(|p| base64url(p)))
    .then_some("a JSON Web Token")
}

/// True for a long random string: a key with no prefix weir knows. Digests (hex, UUIDs,
/// `sha512-…` integrity strings), ids (`ch_3Mq…`, ULIDs), slugs, paths, camelCase names,
/// inlined media and base64 of readable text are not.
fn random(token: &str) -> bool {
    let alnum: Vec<char> = token.chars().filter(char::is_ascii_alphanumeric).collect();
    if alnum.len() < 20
        || !alnum.iter().any(char::is_ascii_digit)
        || !alnum.iter().any(char::is_ascii_alphabetic)
        || inline_content(token)
        || is_object_id(token)
        || is_ulid(token)
        || base64_text(token)
    {
        return false;
    }
    let segments: Vec<&str> =
        token.split(|c: char| !c.is_ascii_alphanumeric()).filter(|s| !s.is_empty()).collect();
    // A random core: stretches of at least 12 letters and digits, not all of them hex
    // (a git SHA, a sha256, a UUID without dashes).
    let long: Vec<&&str> = segments.iter().filter(|s| s.len() >= 12).collect();
    if long.is_empty() || long.iter().all(|s| s.chars().all(|c| c.is_ascii_hexdigit())) {
        return false;
    }
    // Mostly words (`release-2024-05-hotfix`) or numbers: a slug, a name, a path.
    let wordish: usize = segments
        .iter()
        .filter(|s| s.chars().all(|c| c.is_ascii_lowercase()) || s.chars().all(|c| c.is_ascii_digit()))
        .map(|s| s.len())
        .sum();
    if wordish * 2 >= alnum.len() {
        return false;
    }
    // Random text switches between lower case, upper case and digits at about every other
    // character; words rarely do (a capital starting a word is not counted, so camelCase
    // names switch about once a word). A random run of one case with digits switches less,
    // but has few vowels; words have many.
    let class = |c: char| {
        if c.is_ascii_digit() {
            0
        } else if c.is_ascii_uppercase() {
            1
        } else {
            2
        }
    };
    let changes: usize = segments
        .iter()
        .map(|s| {
            s.chars()
                .zip(s.chars().skip(1))
                .filter(|(a, b)| class(*a) != class(*b) && !(class(*a) == 1 && class(*b) == 2))
                .count()
        })
        .sum();
    let letters = alnum.iter().filter(|c| c.is_ascii_alphabetic()).count();
    let vowels =
        alnum.iter().filter(|c| matches!(c.to_ascii_lowercase(), 'a' | 'e' | 'i' | 'o' | 'u')).count();
    let switches =
        changes * 10 >= alnum.len() * 3 || (changes * 20 >= alnum.len() * 3 && vowels * 4 <= letters);
    switches && entropy(token) >= 3.7
}

/// True when `token` opens inlined content: base64 media (a PNG, a JPEG, …) or a
/// subresource-integrity digest (`sha384-…`).
fn inline_content(token: &str) -> bool {
    MEDIA_BASE64.iter().chain(DIGEST_PREFIXES).any(|m| token.starts_with(m))
}

/// An object id with a lower-case type prefix (`ch_3MqLvG2e…`, `cus_Nffr…`, `pk_live_51H8…`):
/// ids and publishable keys name things, they do not grant access. Secret keys with such
/// prefixes (`sk_live_`, `whsec_`) are known prefixes and found before this.
fn is_object_id(token: &str) -> bool {
    let mut parts: Vec<&str> = token.split('_').collect();
    let Some(id) = parts.pop() else { return false };
    (1..=2).contains(&parts.len())
        && parts.iter().all(|p| (2..=8).contains(&p.len()) && p.chars().all(|c| c.is_ascii_lowercase()))
        && id.len() >= 8
        && id.chars().all(|c| c.is_ascii_alphanumeric())
}

/// A ULID (`01HXYZ8K3M…`): 26 characters of Crockford base32, a timestamp first.
fn is_ulid(token: &str) -> bool {
    token.len() == 26
        && token.starts_with(['0', '1', '2', '3', '4', '5', '6', '7'])
        && token
            .chars()
            .all(|c| c.is_ascii_digit() || (c.is_ascii_uppercase() && !matches!(c, 'I' | 'L' | 'O' | 'U')))
}

/// True when `token` is base64 of readable text (`SGVsbG8sIHdvcmxk…`): encoded prose or
/// JSON, not a key (random bytes never decode to text).
fn base64_text(token: &str) -> bool {
    let Some(bytes) = base64_decode(token) else { return false };
    let Ok(text) = std::str::from_utf8(&bytes) else { return false };
    text.len() >= 8
        && text.chars().all(|c| !c.is_control() || c == '\n' || c == '\t' || c == '\r')
        && text.chars().any(|c| c.is_whitespace() || matches!(c, '{' | '"' | ',' | '<'))
}

/// Decode standard or URL-safe base64 (padding optional); `None` when it is not base64.
fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let body = text.trim_end_matches('=');
    if body.len() % 4 == 1 || text.len() - body.len() > 2 {
        return None;
    }
    let value = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => u32::from(c - b'A'),
            b'a'..=b'z' => u32::from(c - b'a') + 26,
            b'0'..=b'9' => u32::from(c - b'0') + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => return None,
        })
    };
    let mut out = Vec::with_capacity(body.len() * 3 / 4);
    for chunk in body.as_bytes().chunks(4) {
        let mut n = 0u32;
        for (i, c) in chunk.iter().enumerate() {
            n |= value(*c)? << (18 - 6 * i);
        }
        let bytes = n.to_be_bytes();
        out.extend_from_slice(&bytes[1..chunk.len()]);
    }
    Some(out)
}

// ---------------------------------------------------------------- redaction

/// `text` with every credential that a `credential-in-config` or `credential-in-flow`
/// diagnostic points at masked by `*` (byte offsets unchanged, so spans stay valid). Render
/// this, never the original, so a credential written in weir.toml or a flow is not copied
/// to a terminal, a CI log or a file. A credential keeps its [`visible_prefix`], so the
/// author can tell which one it is.
pub fn redact(text: &str, diagnostics: &[Diagnostic]) -> String {
    let mut masked: Vec<Range<usize>> = Vec::new();
    for diagnostic in
        diagnostics.iter().filter(|d| matches!(d.code, Code::CredentialInConfig | Code::CredentialInFlow))
    {
        let range = diagnostic.span().range();
        let Some(slice) = text.get(range.clone()) else { continue };
        let quotes = |c: char| c == '"' || c == '\'';
        let inner = slice.trim_start_matches(quotes);
        let start = range.start + (slice.len() - inner.len());
        let inner = inner.trim_end_matches(quotes);
        let quoted = start != range.start;
        let keep =
            if quoted || diagnostic.code == Code::CredentialInFlow { visible_prefix(inner).len() } else { 0 };
        masked.push(start + keep..start + inner.len());
    }
    let mut out = String::with_capacity(text.len());
    for (i, c) in text.char_indices() {
        if masked.iter().any(|r| r.contains(&i)) && c != '\n' {
            out.extend(std::iter::repeat_n('*', c.len_utf8()));
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use weir_diagnostics::Span;

    #[test]
    fn credentials_are_recognised() {
        let yes = [
            "ghp_abcdefghijklmnopqrstuvwxyz0123456789",
            "xoxb-1234567890-abcdefghijkl",
            "AKIAIOSFODNN7EXAMPLE",
            "sk-ant-api03-abcdefghijklmnop",
            "-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n-----END OPENSSH PRIVATE KEY-----",
            "Bearer eyJhbGciOiJIUzI1NiJ9",
            "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
            "q8Xz2LmN4vB7kP1wR9tY3uE6sD0fG5hJ",
        ];
        for value in yes {
            assert!(credential(value).is_some(), "{value}");
        }
        let no = [
            "orders-db-prod-3.c9akciq32.eu-west-1.rds.amazonaws.com",
            "ip-10-0-12-34.eu-west-1.compute.internal",
            "https://api.openai.com/v1",
            "http://code-index.internal:8080",
            "/run/secrets/deployer_token",
            "U024BE7LH",
            "ana@example.com",
            "internal digest channels read by the team",
            "data/service-catalog.db",
            "123e4567-e89b-12d3-a456-426614174000",
            "weir-stdlib-flows",
            "Acme <hello@example.com>",
        ];
        for value in no {
            assert_eq!(credential(value), None, "{value}");
        }
    }

    #[test]
    fn url_passwords_are_located() {
        let url = "postgres://weir:s3cr3t@db.internal/orders";
        let finding = credential(url).expect("found");
        assert_eq!(finding.within.map(|r| &url[r]), Some("s3cr3t"));
        assert_eq!(credential("https://user@example.com/"), None);
        let text = "connect to postgres://weir:s3cr3t@db.internal/orders now";
        let found = scan(text);
        assert_eq!(found.iter().map(|f| &text[f.range.clone()]).collect::<Vec<_>>(), ["s3cr3t"]);
    }

    #[test]
    fn scanning_finds_credentials_inside_text() {
        let cases = [
            (
                "use ghp_abcdefghijklmnopqrstuvwxyz0123456789 to push",
                "ghp_abcdefghijklmnopqrstuvwxyz0123456789",
            ),
            (
                "/repos/x/ghp_abcdefghijklmnopqrstuvwxyz0123456789/issues",
                "ghp_abcdefghijklmnopqrstuvwxyz0123456789",
            ),
            ("/hook?token=q8Xz2LmN4vB7kP1wR9tY3uE6sD0fG5hJ&x=1", "q8Xz2LmN4vB7kP1wR9tY3uE6sD0fG5hJ"),
            ("Authorization: Basic dXNlcjpodW50ZXIy", "dXNlcjpodW50ZXIy"),
            ("key AKIAIOSFODNN7EXAMPLE.", "AKIAIOSFODNN7EXAMPLE"),
        ];
        for (text, secret) in cases {
            let found = scan(text);
            assert_eq!(found.len(), 1, "{text}: {found:?}");
            assert_eq!(&text[found[0].range.clone()], secret, "{text}");
        }
    }

    #[test]
    fn scanning_leaves_ids_alone() {
        for text in [
            "/commits/9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
            "run 123e4567-e89b-12d3-a456-426614174000 at 2024-05-01T12:34:56.789Z",
            "src/components/UserProfile2Settings.tsx",
            "release-2024-05-01-hotfix-payments-service-v2",
            "SGVsbG8sIHdvcmxkISBUaGlzIGlzIGEgdGVzdC4=",
            "the bearer of bad news; basic authentication; token expired",
            "sk-learn-extensions",
        ] {
            assert_eq!(scan(text), Vec::new(), "{text}");
        }
    }

    #[test]
    fn credential_names() {
        for key in ["password", "api_key", "github_token", "client-secret", "TOKEN"] {
            assert!(is_credential_key(key), "{key}");
        }
        for key in ["auth", "base_url", "tokens_per_minute", "known_hosts"] {
            assert!(!is_credential_key(key), "{key}");
        }
        for header in
            ["Authorization", "Proxy-Authorization", "Cookie", "X-Api-Key", "X-Auth-Token", "Private-Token"]
        {
            assert!(is_credential_header(header), "{header}");
        }
        for header in ["Content-Type", "X-Request-Id", "Accept", "X-Token-Count"] {
            assert!(!is_credential_header(header), "{header}");
        }
        for env in ["DB_PASSWORD", "API_KEY", "GITHUB_TOKEN", "AWS_SECRET_ACCESS_KEY"] {
            assert!(is_credential_env(env), "{env}");
        }
        for env in ["TOKENIZERS_PARALLELISM", "KEYBOARD", "HOME", "SERVICE"] {
            assert!(!is_credential_env(env), "{env}");
        }
    }

    #[test]
    fn only_a_short_prefix_is_ever_visible() {
        assert_eq!(visible_prefix("ghp_abcdefghijklmnopqrstuvwxyz0123456789"), "ghp_");
        assert_eq!(visible_prefix("hunter2"), "");
    }

    #[test]
    fn redaction_keeps_offsets_and_hides_the_value() {
        let text = "auth = \"ghp_abcdefghijklmnopqrstuvwxyz0123456789\"\nx = 1\n";
        let start = text.find('"').expect("quote");
        let end = text.rfind('"').expect("quote") + 1;
        let d = Diagnostic::new(Code::CredentialInConfig, Span::new(start, end), "m");
        let redacted = redact(text, &[d]);
        assert_eq!(redacted.len(), text.len());
        assert!(redacted.contains("\"ghp_****"));
        assert!(!redacted.contains("abcdefgh"));
        assert!(redacted.ends_with("\"\nx = 1\n"));
        let other = Diagnostic::new(Code::UnknownConfigKey, Span::new(start, end), "m");
        assert_eq!(redact(text, &[other]), text);
        let flow = Diagnostic::new(Code::CredentialInFlow, Span::new(start + 1, end - 1), "m");
        let redacted = redact(text, &[flow]);
        assert!(redacted.contains("\"ghp_****") && !redacted.contains("abcdefgh"), "{redacted}");
    }
}
