//! `s3:ListObjectsV2` over a trail's tree: the keys `--account`, `--region`
//! and `--since/--until` select, and, when they select nothing of a tree
//! that holds logs, an error that says what the tree does hold (accounts,
//! regions, the days of its logs) instead of an empty run.
//!
//! Accounts and regions are found with delimiter listings; with a window,
//! only the day prefixes inside it are listed. Listings are retried by the
//! SDK ([`Net::retries`](crate::source::aws::Net::retries)).

use std::collections::BTreeSet;

use aws_sdk_s3::error::DisplayErrorContext;
use chrono::{Days, NaiveDate};

use crate::source::aws::{AwsOptions, explain};
use crate::source::remote::Query;

/// Lists what a query selects.
pub(super) struct Lister<'a> {
    pub(super) client: &'a aws_sdk_s3::Client,
    pub(super) bucket: &'a str,
    pub(super) q: &'a Query,
}

impl Lister<'_> {
    /// Every object key to fetch, pruned by account, region and day; an
    /// error names a failed listing, or what the filters left out.
    pub(super) async fn keys(
        &self,
        prefix: &str,
        opts: &AwsOptions,
    ) -> Result<Vec<String>, String> {
        let base = if prefix.is_empty() || prefix.ends_with('/') {
            prefix.to_owned()
        } else {
            format!("{prefix}/")
        };
        let tops = self.dirs(&format!("{base}AWSLogs/")).await?;
        if tops.is_empty() || base.contains("/CloudTrail/") {
            return self.all(&base).await;
        }
        let accounts = self.accounts(tops).await?;
        let wanted = &self.q.accounts;
        let chosen: Vec<&String> = accounts
            .iter()
            .filter(|d| wanted.is_empty() || wanted.iter().any(|a| a == last(d)))
            .collect();
        if chosen.is_empty() {
            return Err(none_of("--account", wanted, "accounts", &names(&accounts)));
        }
        let named: Vec<&str> = opts.named_regions().collect();
        let (mut found, mut region_dirs) = (BTreeSet::new(), Vec::new());
        for account_dir in chosen {
            for d in self.dirs(&format!("{account_dir}CloudTrail/")).await? {
                found.insert(last(&d).to_owned());
                if named.is_empty() || named.contains(&last(&d)) {
                    region_dirs.push(d);
                }
            }
        }
        if region_dirs.is_empty() && !found.is_empty() {
            let found: Vec<String> = found.into_iter().collect();
            return Err(none_of("--region", &named, "regions", &found));
        }
        let mut keys = Vec::new();
        for region_dir in &region_dirs {
            for day in self.days(region_dir) {
                keys.extend(self.all(&day).await?);
            }
        }
        if keys.is_empty()
            && self.q.since_ms.is_some()
            && let Some(span) = self.span(&region_dirs).await?
        {
            return Err(self.outside(span));
        }
        Ok(keys)
    }

    /// `AWSLogs/<acct>/` and, for organization trails, `AWSLogs/<o-id>/<acct>/`.
    async fn accounts(&self, tops: Vec<String>) -> Result<Vec<String>, String> {
        let mut out = Vec::new();
        for top in tops {
            if last(&top).starts_with("o-") {
                out.extend(self.dirs(&top).await?);
            } else {
                out.push(top);
            }
        }
        Ok(out)
    }

    /// The day prefixes inside `--since/--until`, or the region prefix itself.
    fn days(&self, region_dir: &str) -> Vec<String> {
        let Some(first) = self.q.since_ms.and_then(day) else {
            return vec![region_dir.to_owned()];
        };
        let end = self.until();
        let mut out = Vec::new();
        let mut d: NaiveDate = first;
        while d <= end && out.len() < 3660 {
            out.push(format!("{region_dir}{}/", d.format("%Y/%m/%d")));
            d = d + Days::new(1);
        }
        out
    }

    fn until(&self) -> NaiveDate {
        self.q
            .until_ms
            .and_then(day)
            .unwrap_or_else(|| chrono::Utc::now().date_naive())
    }

    /// The first and last day with logs under any of `region_dirs`.
    async fn span(&self, region_dirs: &[String]) -> Result<Option<(NaiveDate, NaiveDate)>, String> {
        let mut span: Option<(NaiveDate, NaiveDate)> = None;
        for dir in region_dirs {
            let (Some(first), Some(end)) =
                (self.edge(dir, true).await?, self.edge(dir, false).await?)
            else {
                continue;
            };
            span = Some(span.map_or((first, end), |(a, b)| (a.min(first), b.max(end))));
        }
        Ok(span)
    }

    /// The first (or last) `YYYY/MM/DD/` under a region prefix: three listings.
    async fn edge(&self, region_dir: &str, first: bool) -> Result<Option<NaiveDate>, String> {
        let mut dir = region_dir.to_owned();
        for _ in 0..3 {
            let mut below = self.dirs(&dir).await?;
            below.sort();
            let next = if first { below.first() } else { below.last() };
            let Some(next) = next else { return Ok(None) };
            dir.clone_from(next);
        }
        let ymd = dir.strip_prefix(region_dir).unwrap_or(&dir);
        Ok(NaiveDate::parse_from_str(ymd.trim_end_matches('/'), "%Y/%m/%d").ok())
    }

    /// The window selected no day of a tree whose logs run over `span`.
    fn outside(&self, (first, end): (NaiveDate, NaiveDate)) -> String {
        let since = self.q.since_ms.and_then(day).map(|d| d.to_string());
        let until = self.until();
        format!(
            "nothing to read: `--since`/`--until` select no day with logs (`{}` to `{until}`); the logs run from `{first}` to `{end}`\nhint: widen the window to overlap those days",
            since.unwrap_or_default()
        )
    }

    /// The "directories" right under `prefix`.
    async fn dirs(&self, prefix: &str) -> Result<Vec<String>, String> {
        self.list(prefix, true).await
    }

    /// Every key under `prefix`.
    async fn all(&self, prefix: &str) -> Result<Vec<String>, String> {
        self.list(prefix, false).await
    }

    async fn list(&self, prefix: &str, delimited: bool) -> Result<Vec<String>, String> {
        if self.q.verbose {
            eprintln!("denydiff: listing s3://{}/{prefix}", self.bucket);
        }
        let mut req = self
            .client
            .list_objects_v2()
            .bucket(self.bucket)
            .prefix(prefix);
        if delimited {
            req = req.delimiter("/");
        }
        let mut pages = req.into_paginator().send();
        let mut out = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page
                .map_err(|e| explain("s3:ListObjectsV2", &DisplayErrorContext(&e).to_string()))?;
            if delimited {
                out.extend(
                    page.common_prefixes()
                        .iter()
                        .filter_map(|p| p.prefix().map(str::to_owned)),
                );
            } else {
                out.extend(
                    page.contents()
                        .iter()
                        .filter_map(|o| o.key().map(str::to_owned)),
                );
            }
        }
        Ok(out)
    }
}

/// `nothing to read: --region x matches none of the regions there: a, b`.
fn none_of(flag: &str, wanted: &[impl AsRef<str>], what: &str, found: &[String]) -> String {
    let wanted: Vec<String> = wanted
        .iter()
        .map(|w| format!("`{flag} {}`", w.as_ref()))
        .collect();
    let found: Vec<String> = found.iter().map(|f| format!("`{f}`")).collect();
    format!(
        "nothing to read: {} matches none of the {what} there: {}\nhint: pass one of those to `{flag}`, or leave `{flag}` out to read them all",
        wanted.join(", "),
        found.join(", ")
    )
}

fn names(dirs: &[String]) -> Vec<String> {
    let set: BTreeSet<&str> = dirs.iter().map(|d| last(d)).collect();
    set.into_iter().map(str::to_owned).collect()
}

fn day(ms: i64) -> Option<NaiveDate> {
    chrono::DateTime::from_timestamp_millis(ms).map(|t| t.date_naive())
}

/// The last path segment of a `dir/` prefix.
fn last(dir: &str) -> &str {
    dir.trim_end_matches('/').rsplit('/').next().unwrap_or(dir)
}

#[cfg(test)]
mod tests {
    use super::{last, none_of};

    #[test]
    fn nothing_names_what_is_there() {
        let found = vec!["ap-northeast-1".to_owned(), "us-east-1".to_owned()];
        let msg = none_of("--region", &["eu-west-1"], "regions", &found);
        assert_eq!(
            msg,
            "nothing to read: `--region eu-west-1` matches none of the regions there: `ap-northeast-1`, `us-east-1`\nhint: pass one of those to `--region`, or leave `--region` out to read them all"
        );
        assert_eq!(last("AWSLogs/o-abc/111122223333/"), "111122223333");
    }
}
