//! Nova's `name` filter on server lists: a regular expression a tenant sends, so its cost is
//! bounded three ways. The pattern is at most [`MAX_PATTERN_LEN`] characters, it compiles
//! under a size and nesting limit (a pattern that would blow up is a 400, not a stall), and
//! `regex_lite` matches in time linear in the name. Matching a batch of rows runs on a
//! blocking thread, never on the async threads; how many rows one list scans is bounded by
//! `ComputeConfig::max_scan_rows`.

use crate::{CoreError, Result};

/// Longest pattern accepted (a server name is at most 255 characters too).
pub(crate) const MAX_PATTERN_LEN: usize = 255;
/// Bytes the compiled pattern may take.
const SIZE_LIMIT: usize = 1 << 18;
/// Group nesting depth accepted.
const NEST_LIMIT: u32 = 32;

/// A compiled `name` filter.
#[derive(Debug, Clone)]
pub(crate) struct NameFilter(regex_lite::Regex);

impl NameFilter {
    /// Checks and compiles a pattern; anything unacceptable is a 400.
    pub(crate) fn parse(pattern: &str) -> Result<NameFilter> {
        if pattern.chars().count() > MAX_PATTERN_LEN {
            return Err(CoreError::bad_request(format!(
                "Invalid input for query parameters name. The pattern is longer than {MAX_PATTERN_LEN} characters."
            )));
        }
        regex_lite::RegexBuilder::new(pattern)
            .size_limit(SIZE_LIMIT)
            .nest_limit(NEST_LIMIT)
            .build()
            .map(NameFilter)
            .map_err(|_| CoreError::bad_request(format!("Invalid name filter {pattern}")))
    }

    /// Which of `names` match, computed on a blocking thread.
    pub(crate) async fn matches(&self, names: Vec<String>) -> Result<Vec<bool>> {
        let re = self.0.clone();
        tokio::task::spawn_blocking(move || names.iter().map(|n| re.is_match(n)).collect())
            .await
            .map_err(|_| CoreError::internal("name filter failed"))
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;
    use crate::ErrorKind;

    #[tokio::test]
    async fn matches_like_a_regex() {
        let f = NameFilter::parse("^web-[0-9]+$").unwrap();
        let got = f
            .matches(vec!["web-1".into(), "web-x".into(), "db-1".into()])
            .await
            .unwrap();
        assert_eq!(got, vec![true, false, false]);
    }

    #[test]
    fn oversized_or_pathological_patterns_are_bad_requests() {
        let started = Instant::now();
        let long = "a".repeat(MAX_PATTERN_LEN + 1);
        assert_eq!(
            NameFilter::parse(&long).unwrap_err().kind,
            ErrorKind::BadRequest
        );
        assert!(NameFilter::parse(&"a".repeat(MAX_PATTERN_LEN)).is_ok());
        // Repetition that would compile to an enormous program.
        for p in [
            "((a{100}){100}){100}",
            "(.{255}){255}",
            &format!("{}a{}", "(".repeat(60), ")".repeat(60)),
            "(unclosed",
        ] {
            assert_eq!(
                NameFilter::parse(p).unwrap_err().kind,
                ErrorKind::BadRequest,
                "{p}"
            );
        }
        assert!(started.elapsed() < Duration::from_secs(2));
    }
}
