//! Server lists, answered from the index only (one pod down or slow never slows a list): Nova's
//! filters (regex `name`, tags, `ip`/`ip6` over fixed addresses, status, times, ...), sort keys,
//! marker paging bounded by a scan limit, and `UNKNOWN` entries for unreachable pods (2.69).

use std::collections::BTreeSet;

use cascade_model::admin::PodState;
use cascade_store::compute::{ServerFilter, ServerPage, server_sort_column};
use serde_json::Value;

use super::Compute;
use super::servers::ServerView;
use crate::identity::Scope;
use crate::{CoreError, Result};

/// A list request.
#[derive(Debug, Clone)]
pub struct ListQuery {
    pub filter: ServerFilter,
    /// Nova's `name` filter is a regular expression.
    pub name: Option<String>,
    pub tags: Vec<String>,
    pub tags_any: Vec<String>,
    pub not_tags: Vec<String>,
    pub not_tags_any: Vec<String>,
    pub sort_key: Option<String>,
    pub sort_dir: Option<String>,
    pub limit: Option<usize>,
    pub marker: Option<String>,
    /// Whose servers: the caller's project, or all projects' for an admin's `all_tenants`.
    pub scope: Scope,
    /// ≥ 2.69: servers of unreachable pods are shown as `UNKNOWN` instead of skipped.
    pub show_unknown: bool,
    /// Nova's `ip` / `ip6` filters: a substring of one of the server's fixed IPv4 / IPv6
    /// addresses (Nova asks Neutron for ports with `ip_address_substr`).
    pub ip: Option<String>,
    pub ip6: Option<String>,
}

/// Whether a server's `addresses` document has a fixed address of `version` containing `part`.
pub(crate) fn has_fixed_ip(addresses: &str, version: u64, part: &str) -> bool {
    let doc: Value = serde_json::from_str(addresses).unwrap_or(Value::Null);
    doc.as_object().into_iter().flatten().any(|(_, ips)| {
        ips.as_array().into_iter().flatten().any(|ip| {
            ip["version"].as_u64() == Some(version)
                && ip["OS-EXT-IPS:type"].as_str() != Some("floating")
                && ip["addr"].as_str().is_some_and(|a| a.contains(part))
        })
    })
}

impl ListQuery {
    /// A list of `scope`'s servers with no filter.
    pub fn new(scope: Scope) -> ListQuery {
        ListQuery {
            filter: ServerFilter::default(),
            name: None,
            tags: Vec::new(),
            tags_any: Vec::new(),
            not_tags: Vec::new(),
            not_tags_any: Vec::new(),
            sort_key: None,
            sort_dir: None,
            limit: None,
            marker: None,
            scope,
            show_unknown: false,
            ip: None,
            ip6: None,
        }
    }
}

/// A page of servers.
#[derive(Debug, Clone)]
pub struct ServerList {
    pub servers: Vec<ServerView>,
    /// Set when the page is full (Nova then emits a `next` link).
    pub next_marker: Option<String>,
}

impl Compute {
    /// Lists servers from the index, sorted and paged like Nova.
    pub async fn list_servers(&self, q: &ListQuery) -> Result<ServerList> {
        let sort_column = match q.sort_key.as_deref() {
            None => "created_at",
            Some(k) => server_sort_column(k)
                .ok_or_else(|| CoreError::bad_request(format!("Invalid sort_key {k}")))?,
        };
        let descending = match q.sort_dir.as_deref() {
            None | Some("desc") => true,
            Some("asc") => false,
            Some(d) => return Err(CoreError::bad_request(format!("Invalid sort_dir {d}"))),
        };
        let limit = q
            .limit
            .unwrap_or(self.config.max_limit)
            .min(self.config.max_limit);
        let mut after = match &q.marker {
            Some(m) => Some(
                self.store
                    .get_server(m)
                    .await
                    .ok()
                    .filter(|r| q.scope.permits(&r.project_id))
                    .ok_or_else(|| CoreError::bad_request(format!("marker [{m}] not found")))?,
            ),
            None => None,
        };
        let name_re = q
            .name
            .as_deref()
            .map(super::name_filter::NameFilter::parse)
            .transpose()?;
        let mut scanned = 0usize;
        let mut filter = q.filter.clone();
        if let Scope::Project(scope) = &q.scope {
            filter.project_id = Some(scope.clone());
        }
        let pods = self.pods.list().await?;
        let mut down = BTreeSet::new();
        for p in &pods {
            if p.state == PodState::Down
                || self
                    .pods
                    .client(&p.pod_id)
                    .await
                    .map(|c| c.is_open())
                    .unwrap_or(false)
            {
                down.insert(p.pod_id.clone());
            }
        }
        let mut out = Vec::new();
        if limit == 0 {
            return Ok(ServerList {
                servers: out,
                next_marker: None,
            });
        }
        loop {
            let batch = self
                .store
                .list_servers(
                    &filter,
                    &ServerPage {
                        sort_column,
                        descending,
                        after: after.clone(),
                        limit: (limit as i64).max(100),
                    },
                )
                .await?;
            let exhausted = (batch.len() as i64) < (limit as i64).max(100);
            scanned += batch.len();
            let named = match &name_re {
                Some(re) => Some(
                    re.matches(batch.iter().map(|r| r.name.clone()).collect())
                        .await?,
                ),
                None => None,
            };
            for (i, row) in batch.into_iter().enumerate() {
                after = Some(row.clone());
                if named.as_ref().is_some_and(|m| !m[i]) {
                    continue;
                }
                let tags: Vec<String> = serde_json::from_str(&row.tags).unwrap_or_default();
                if !q.tags.iter().all(|t| tags.contains(t))
                    || (!q.tags_any.is_empty() && !q.tags_any.iter().any(|t| tags.contains(t)))
                    || (!q.not_tags.is_empty() && q.not_tags.iter().all(|t| tags.contains(t)))
                    || q.not_tags_any.iter().any(|t| tags.contains(t))
                {
                    continue;
                }
                if q.ip
                    .as_deref()
                    .is_some_and(|p| !has_fixed_ip(&row.addresses, 4, p))
                    || q.ip6
                        .as_deref()
                        .is_some_and(|p| !has_fixed_ip(&row.addresses, 6, p))
                {
                    continue;
                }
                let unknown = row.pod_id.as_ref().is_some_and(|p| down.contains(p));
                if unknown && !q.show_unknown {
                    continue;
                }
                let groups = row.server_group_id.iter().cloned().collect();
                out.push(ServerView {
                    row,
                    unknown,
                    server_groups: groups,
                });
                if out.len() == limit {
                    let next = out.last().map(|v| v.row.id.clone());
                    return Ok(ServerList {
                        servers: out,
                        next_marker: next,
                    });
                }
            }
            if exhausted {
                return Ok(ServerList {
                    servers: out,
                    next_marker: None,
                });
            }
            if scanned >= self.config.max_scan_rows {
                // Filters left most rows out: a short page, continued where the scan stopped.
                return Ok(ServerList {
                    servers: out,
                    next_marker: after.map(|r| r.id),
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::has_fixed_ip;

    #[test]
    fn ip_filters_match_fixed_addresses_of_their_version() {
        let a = r#"{"n": [
            {"addr": "10.44.0.5", "version": 4, "OS-EXT-IPS:type": "fixed"},
            {"addr": "172.24.4.9", "version": 4, "OS-EXT-IPS:type": "floating"},
            {"addr": "2001:db8::5", "version": 6}
        ]}"#;
        assert!(has_fixed_ip(a, 4, "10.44.0"));
        assert!(has_fixed_ip(a, 4, "0.5"));
        assert!(
            !has_fixed_ip(a, 4, "172.24"),
            "floating addresses are not Neutron fixed IPs"
        );
        assert!(has_fixed_ip(a, 6, "db8::5"));
        assert!(!has_fixed_ip(a, 6, "10.44"));
        assert!(!has_fixed_ip("{}", 4, "10"));
        assert!(!has_fixed_ip("not json", 4, "10"));
    }
}
