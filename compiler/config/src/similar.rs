//! "Did you mean": the closest known word by edit distance.
//!
//! weir-grammar has its own; this crate must not depend on it (the runtime reads weir.toml
//! without the compiler), so it keeps this small copy.

/// Levenshtein distance between two strings, by chars.
pub fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = if ca == *cb { diagonal } else { 1 + diagonal.min(above).min(row[j]) };
            diagonal = above;
        }
    }
    row[b.len()]
}

/// The candidate closest to `word`, if it is close enough to be a plausible typo, or else
/// the one `word` abbreviates (`warn` for `warning`).
pub fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str> + Clone) -> Option<&'a str> {
    let limit = (word.chars().count() / 3).max(1);
    let word = word.to_ascii_lowercase();
    let close = candidates
        .clone()
        .into_iter()
        .map(|candidate| (distance(&word, &candidate.to_ascii_lowercase()), candidate))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, candidate)| (*d, *candidate))
        .map(|(_, candidate)| candidate);
    close.or_else(|| {
        (word.len() >= 3)
            .then(|| {
                candidates
                    .into_iter()
                    .filter(|c| c.to_ascii_lowercase().starts_with(&word))
                    .min_by_key(|c| c.len())
            })
            .flatten()
    })
}

/// `"did you mean `x`?"` or nothing.
pub fn did_you_mean<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str> + Clone) -> Option<String> {
    closest(word, candidates).map(|c| format!("did you mean `{c}`?"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances() {
        assert_eq!(distance("", ""), 0);
        assert_eq!(distance("kitten", "sitting"), 3);
        assert_eq!(distance("base_url", "base_ur"), 1);
        assert_eq!(distance("é", "e"), 1);
    }

    #[test]
    fn closest_is_bounded() {
        assert_eq!(closest("base_ulr", ["base_url", "host"]), Some("base_url"));
        assert_eq!(closest("irreversable", ["irreversible", "unattended"]), Some("irreversible"));
        assert_eq!(closest("zzz", ["base_url", "host"]), None);
        assert_eq!(closest("Host", ["host"]), Some("host"));
        assert_eq!(closest("warn", ["error", "warning", "off"]), Some("warning"));
        assert_eq!(closest("of", ["error", "warning", "off"]), Some("off"));
    }
}
