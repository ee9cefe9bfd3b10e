//! Rows of compute: flavors (with access lists), keypairs, the server index (the top's own
//! record of every server, used for lists and when a pod is down), server groups, quotas,
//! tenant-to-pod bindings per AZ, and the per-pod watermarks of the index watcher.

use sqlx::FromRow;

use crate::{Result, Store, StoreError};

#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct FlavorRow {
    pub id: String,
    pub name: String,
    pub vcpus: i64,
    pub ram: i64,
    pub disk: i64,
    pub ephemeral: i64,
    pub swap: i64,
    pub rxtx_factor: String,
    #[sqlx(try_from = "crate::Flag")]
    pub is_public: bool,
    pub description: Option<String>,
    /// JSON object.
    pub extra_specs: String,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct KeypairRow {
    pub user_id: String,
    pub name: String,
    pub project_id: String,
    pub public_key: String,
    pub fingerprint: String,
    pub key_type: String,
    pub created_at: i64,
}

/// One server of the index. JSON columns: `flavor` (snapshot), `metadata`, `tags`, `fault`,
/// `security_groups`, `request` (the build request), `addresses`, `volumes`.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct ServerRow {
    pub id: String,
    pub project_id: String,
    pub user_id: String,
    pub name: String,
    pub status: String,
    pub vm_state: String,
    pub task_state: Option<String>,
    pub power_state: i64,
    pub pod_id: Option<String>,
    pub az: String,
    pub flavor: String,
    pub vcpus: i64,
    pub ram: i64,
    pub image_id: String,
    pub key_name: Option<String>,
    pub metadata: String,
    pub tags: String,
    pub host_id: String,
    pub fault: Option<String>,
    #[sqlx(try_from = "crate::Flag")]
    pub locked: bool,
    pub locked_reason: Option<String>,
    pub description: Option<String>,
    pub access_ipv4: String,
    pub access_ipv6: String,
    pub config_drive: String,
    pub security_groups: String,
    pub server_group_id: Option<String>,
    pub request: String,
    pub bottom_id: Option<String>,
    pub addresses: String,
    pub volumes: String,
    pub launched_at: Option<i64>,
    pub terminated_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
    #[sqlx(try_from = "crate::Flag")]
    pub deleted: bool,
    pub deleted_at: Option<i64>,
    /// The compute host as the top names it (`<pod host>@<region>`), empty until known.
    pub host: String,
}

const SERVER_COLS: &str = "id, project_id, user_id, name, status, vm_state, task_state, power_state, pod_id, az, \
    flavor, vcpus, ram, image_id, key_name, metadata, tags, host_id, fault, locked, locked_reason, description, \
    access_ipv4, access_ipv6, config_drive, security_groups, server_group_id, request, bottom_id, addresses, volumes, \
    launched_at, terminated_at, created_at, updated_at, deleted, deleted_at, host";

const FLAVOR_COLS: &str = "id, name, vcpus, ram, disk, ephemeral, swap, rxtx_factor, is_public, description, extra_specs, created_at";

/// Columns a server list may sort on (Nova's sort keys → ours).
pub fn server_sort_column(key: &str) -> Option<&'static str> {
    Some(match key {
        "created_at" => "created_at",
        "updated_at" => "updated_at",
        "display_name" | "name" => "name",
        "uuid" | "id" => "id",
        "vm_state" => "vm_state",
        "task_state" => "task_state",
        "power_state" => "power_state",
        "availability_zone" => "az",
        "project_id" => "project_id",
        "user_id" => "user_id",
        "key_name" => "key_name",
        "launched_at" => "launched_at",
        "terminated_at" => "terminated_at",
        "image_ref" => "image_id",
        _ => return None,
    })
}

/// Filters of a server list pushed into SQL; every `Some` must match.
#[derive(Debug, Clone, Default)]
pub struct ServerFilter {
    pub project_id: Option<String>,
    pub user_id: Option<String>,
    pub pod_id: Option<String>,
    pub status: Option<String>,
    pub az: Option<String>,
    pub image_id: Option<String>,
    pub flavor_id: Option<String>,
    pub key_name: Option<String>,
    /// The top's host name (`<pod host>@<region>`).
    pub host: Option<String>,
    pub locked: Option<bool>,
    /// `updated_at >= t` (µs); deleted servers are included when set.
    pub changes_since: Option<i64>,
    /// `updated_at <= t` (µs).
    pub changes_before: Option<i64>,
    pub include_deleted: bool,
    pub only_deleted: bool,
}

/// A keyset page request: sort column, direction, and the marker row's sort value and id.
#[derive(Debug, Clone)]
pub struct ServerPage {
    pub sort_column: &'static str,
    pub descending: bool,
    pub after: Option<ServerRow>,
    pub limit: i64,
}

fn sort_value(row: &ServerRow, column: &str) -> SortValue {
    match column {
        "created_at" => SortValue::Int(Some(row.created_at)),
        "updated_at" => SortValue::Int(Some(row.updated_at)),
        "power_state" => SortValue::Int(Some(row.power_state)),
        "launched_at" => SortValue::Int(row.launched_at),
        "terminated_at" => SortValue::Int(row.terminated_at),
        "name" => SortValue::Text(Some(row.name.clone())),
        "id" => SortValue::Text(Some(row.id.clone())),
        "vm_state" => SortValue::Text(Some(row.vm_state.clone())),
        "task_state" => SortValue::Text(row.task_state.clone()),
        "az" => SortValue::Text(Some(row.az.clone())),
        "project_id" => SortValue::Text(Some(row.project_id.clone())),
        "user_id" => SortValue::Text(Some(row.user_id.clone())),
        "key_name" => SortValue::Text(row.key_name.clone()),
        _ => SortValue::Text(Some(row.image_id.clone())),
    }
}

enum SortValue {
    Int(Option<i64>),
    Text(Option<String>),
}

#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct ServerGroupRow {
    pub id: String,
    pub name: String,
    pub project_id: String,
    pub user_id: String,
    pub policy: String,
    pub rules: String,
    pub created_at: i64,
}

/// Bind values of a dynamically built statement.
enum Param {
    Text(String),
    Int(i64),
}

impl Store {
    // ---- flavors -------------------------------------------------------------------------

    pub async fn insert_flavor(&self, f: &FlavorRow) -> Result<()> {
        sqlx::query(sql!("INSERT INTO flavors ({FLAVOR_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"))
            .bind(&f.id)
            .bind(&f.name)
            .bind(f.vcpus)
            .bind(f.ram)
            .bind(f.disk)
            .bind(f.ephemeral)
            .bind(f.swap)
            .bind(&f.rxtx_factor)
            .bind(i64::from(f.is_public))
            .bind(&f.description)
            .bind(&f.extra_specs)
            .bind(f.created_at)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn get_flavor(&self, id: &str) -> Result<FlavorRow> {
        Ok(
            sqlx::query_as(sql!("SELECT {FLAVOR_COLS} FROM flavors WHERE id = $1"))
                .bind(id)
                .fetch_one(&self.pool)
                .await?,
        )
    }

    pub async fn list_flavors(&self) -> Result<Vec<FlavorRow>> {
        Ok(
            sqlx::query_as(sql!("SELECT {FLAVOR_COLS} FROM flavors ORDER BY id"))
                .fetch_all(&self.pool)
                .await?,
        )
    }

    pub async fn update_flavor(&self, f: &FlavorRow) -> Result<()> {
        let done =
            sqlx::query("UPDATE flavors SET description = $2, extra_specs = $3 WHERE id = $1")
                .bind(&f.id)
                .bind(&f.description)
                .bind(&f.extra_specs)
                .execute(&self.pool)
                .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    pub async fn delete_flavor(&self, id: &str) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM flavor_access WHERE flavor_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let done = sqlx::query("DELETE FROM flavors WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn add_flavor_access(&self, flavor_id: &str, project_id: &str) -> Result<()> {
        sqlx::query("INSERT INTO flavor_access (flavor_id, project_id) VALUES ($1, $2)")
            .bind(flavor_id)
            .bind(project_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn remove_flavor_access(&self, flavor_id: &str, project_id: &str) -> Result<()> {
        let done =
            sqlx::query("DELETE FROM flavor_access WHERE flavor_id = $1 AND project_id = $2")
                .bind(flavor_id)
                .bind(project_id)
                .execute(&self.pool)
                .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    pub async fn flavor_access(&self, flavor_id: &str) -> Result<Vec<String>> {
        let rows: Vec<(String,)> = sqlx::query_as(
            "SELECT project_id FROM flavor_access WHERE flavor_id = $1 ORDER BY project_id",
        )
        .bind(flavor_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(|r| r.0).collect())
    }

    // ---- keypairs ------------------------------------------------------------------------

    pub async fn insert_keypair(&self, k: &KeypairRow) -> Result<()> {
        sqlx::query(
            "INSERT INTO keypairs (user_id, name, project_id, public_key, fingerprint, key_type, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&k.user_id)
        .bind(&k.name)
        .bind(&k.project_id)
        .bind(&k.public_key)
        .bind(&k.fingerprint)
        .bind(&k.key_type)
        .bind(k.created_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn get_keypair(&self, user_id: &str, name: &str) -> Result<KeypairRow> {
        Ok(sqlx::query_as(
            "SELECT user_id, name, project_id, public_key, fingerprint, key_type, created_at FROM keypairs \
             WHERE user_id = $1 AND name = $2",
        )
        .bind(user_id)
        .bind(name)
        .fetch_one(&self.pool)
        .await?)
    }

    pub async fn list_keypairs(&self, user_id: &str) -> Result<Vec<KeypairRow>> {
        Ok(sqlx::query_as(
            "SELECT user_id, name, project_id, public_key, fingerprint, key_type, created_at FROM keypairs \
             WHERE user_id = $1 ORDER BY name",
        )
        .bind(user_id)
        .fetch_all(&self.pool)
        .await?)
    }

    pub async fn delete_keypair(&self, user_id: &str, name: &str) -> Result<()> {
        let done = sqlx::query("DELETE FROM keypairs WHERE user_id = $1 AND name = $2")
            .bind(user_id)
            .bind(name)
            .execute(&self.pool)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    // ---- servers -------------------------------------------------------------------------

    pub async fn insert_server(&self, s: &ServerRow) -> Result<()> {
        let placeholders: Vec<String> = (1..=38).map(|i| format!("${i}")).collect();
        let q = sqlx::query(sql!(
            "INSERT INTO servers ({SERVER_COLS}) VALUES ({})",
            placeholders.join(", ")
        ));
        bind_server(q, s).execute(&self.pool).await?;
        Ok(())
    }

    /// Rewrites a server row (all columns but the id).
    pub async fn update_server(&self, s: &ServerRow) -> Result<()> {
        let sets: Vec<String> = SERVER_COLS
            .split(", ")
            .enumerate()
            .skip(1)
            .map(|(i, c)| format!("{c} = ${}", i + 1))
            .collect();
        let q = sqlx::query(sql!("UPDATE servers SET {} WHERE id = $1", sets.join(", ")));
        let done = bind_server(q, s).execute(&self.pool).await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    /// A server, deleted ones included.
    pub async fn get_server(&self, id: &str) -> Result<ServerRow> {
        Ok(
            sqlx::query_as(sql!("SELECT {SERVER_COLS} FROM servers WHERE id = $1"))
                .bind(id)
                .fetch_one(&self.pool)
                .await?,
        )
    }

    /// The server whose bottom copy in `pod_id` is `bottom_id`.
    pub async fn server_by_bottom(
        &self,
        pod_id: &str,
        bottom_id: &str,
    ) -> Result<Option<ServerRow>> {
        Ok(sqlx::query_as(sql!(
            "SELECT {SERVER_COLS} FROM servers WHERE pod_id = $1 AND bottom_id = $2"
        ))
        .bind(pod_id)
        .bind(bottom_id)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// One page of servers matching `filter`, ordered by the page's sort column then id.
    pub async fn list_servers(
        &self,
        filter: &ServerFilter,
        page: &ServerPage,
    ) -> Result<Vec<ServerRow>> {
        let mut conds: Vec<String> = Vec::new();
        let mut params: Vec<Param> = Vec::new();
        let mut push = |cond: &str, p: Param, params: &mut Vec<Param>| {
            params.push(p);
            conds.push(cond.replace('?', &format!("${}", params.len())));
        };
        let text = |v: &Option<String>| v.clone().map(Param::Text);
        for (col, val) in [
            ("project_id", &filter.project_id),
            ("user_id", &filter.user_id),
            ("pod_id", &filter.pod_id),
            ("status", &filter.status),
            ("az", &filter.az),
            ("image_id", &filter.image_id),
            ("key_name", &filter.key_name),
            ("host", &filter.host),
        ] {
            if let Some(p) = text(val) {
                push(&format!("{col} = ?"), p, &mut params);
            }
        }
        if let Some(f) = &filter.flavor_id {
            push(
                "flavor LIKE ?",
                Param::Text(format!("%\"id\":\"{}\"%", f.replace(['%', '_'], ""))),
                &mut params,
            );
        }
        if let Some(l) = filter.locked {
            push("locked = ?", Param::Int(i64::from(l)), &mut params);
        }
        if let Some(t) = filter.changes_since {
            push("updated_at >= ?", Param::Int(t), &mut params);
        }
        if let Some(t) = filter.changes_before {
            push("updated_at <= ?", Param::Int(t), &mut params);
        }
        if filter.only_deleted {
            conds.push("deleted = 1".into());
        } else if !filter.include_deleted && filter.changes_since.is_none() {
            conds.push("deleted = 0".into());
        }
        let col = page.sort_column;
        let (cmp, dir) = if page.descending {
            ("<", "DESC")
        } else {
            (">", "ASC")
        };
        if let Some(after) = &page.after {
            let id_pos = {
                params.push(Param::Text(after.id.clone()));
                params.len()
            };
            match sort_value(after, col) {
                SortValue::Int(Some(v)) => {
                    params.push(Param::Int(v));
                    let n = params.len();
                    conds.push(format!(
                        "({col} {cmp} ${n} OR ({col} = ${n} AND id {cmp} ${id_pos}))"
                    ));
                }
                SortValue::Text(Some(v)) => {
                    params.push(Param::Text(v));
                    let n = params.len();
                    conds.push(format!(
                        "({col} {cmp} ${n} OR ({col} = ${n} AND id {cmp} ${id_pos}))"
                    ));
                }
                // NULL sort values: keep it simple and continue by id among NULLs, then the rest.
                _ => conds.push(format!(
                    "(({col} IS NULL AND id {cmp} ${id_pos}) OR {col} IS NOT NULL)"
                )),
            }
        }
        let where_clause = if conds.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", conds.join(" AND "))
        };
        params.push(Param::Int(page.limit));
        let limit_pos = params.len();
        let text = format!(
            "SELECT {SERVER_COLS} FROM servers {where_clause} ORDER BY {col} {dir}, id {dir} LIMIT ${limit_pos}"
        );
        let mut q = sqlx::query_as::<_, ServerRow>(sqlx::AssertSqlSafe(text));
        for p in params {
            q = match p {
                Param::Text(t) => q.bind(t),
                Param::Int(i) => q.bind(i),
            };
        }
        Ok(q.fetch_all(&self.pool).await?)
    }

    /// Instances, vCPUs and RAM in use by a project (servers not deleted).
    pub async fn server_usage(&self, project_id: &str) -> Result<(i64, i64, i64)> {
        let (n, c, r): (i64, Option<i64>, Option<i64>) = sqlx::query_as(
            "SELECT COUNT(*), CAST(SUM(vcpus) AS BIGINT), CAST(SUM(ram) AS BIGINT) FROM servers \
             WHERE project_id = $1 AND deleted = 0",
        )
        .bind(project_id)
        .fetch_one(&self.pool)
        .await?;
        Ok((n, c.unwrap_or(0), r.unwrap_or(0)))
    }

    /// Servers (not deleted) per pod, for the scheduler and groups.
    pub async fn server_pods(&self, ids: &[String]) -> Result<Vec<(String, Option<String>)>> {
        let mut out = Vec::new();
        for id in ids {
            if let Ok(s) = self.get_server(id).await
                && !s.deleted
            {
                out.push((s.id, s.pod_id));
            }
        }
        Ok(out)
    }

    // ---- server groups -------------------------------------------------------------------

    pub async fn insert_server_group(&self, g: &ServerGroupRow) -> Result<()> {
        sqlx::query(
            "INSERT INTO server_groups (id, name, project_id, user_id, policy, rules, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&g.id)
        .bind(&g.name)
        .bind(&g.project_id)
        .bind(&g.user_id)
        .bind(&g.policy)
        .bind(&g.rules)
        .bind(g.created_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn get_server_group(&self, id: &str) -> Result<ServerGroupRow> {
        Ok(sqlx::query_as(
            "SELECT id, name, project_id, user_id, policy, rules, created_at FROM server_groups WHERE id = $1",
        )
        .bind(id)
        .fetch_one(&self.pool)
        .await?)
    }

    pub async fn list_server_groups(
        &self,
        project_id: Option<&str>,
    ) -> Result<Vec<ServerGroupRow>> {
        Ok(sqlx::query_as(
            "SELECT id, name, project_id, user_id, policy, rules, created_at FROM server_groups \
             WHERE ($1 IS NULL OR project_id = $1) ORDER BY created_at, id",
        )
        .bind(project_id)
        .fetch_all(&self.pool)
        .await?)
    }

    pub async fn delete_server_group(&self, id: &str) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM server_group_members WHERE group_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let done = sqlx::query("DELETE FROM server_groups WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn add_group_member(&self, group_id: &str, server_id: &str) -> Result<()> {
        sqlx::query("INSERT INTO server_group_members (group_id, server_id) VALUES ($1, $2) ON CONFLICT DO NOTHING")
            .bind(group_id)
            .bind(server_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn remove_group_member(&self, server_id: &str) -> Result<()> {
        sqlx::query("DELETE FROM server_group_members WHERE server_id = $1")
            .bind(server_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn group_members(&self, group_id: &str) -> Result<Vec<String>> {
        let rows: Vec<(String,)> = sqlx::query_as(
            "SELECT server_id FROM server_group_members WHERE group_id = $1 ORDER BY server_id",
        )
        .bind(group_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(|r| r.0).collect())
    }

    // ---- quotas, bindings, watermarks -----------------------------------------------------

    pub async fn compute_quotas(&self, project_id: &str) -> Result<Vec<(String, i64)>> {
        Ok(
            sqlx::query_as("SELECT resource, hard_limit FROM compute_quotas WHERE project_id = $1")
                .bind(project_id)
                .fetch_all(&self.pool)
                .await?,
        )
    }

    pub async fn set_compute_quota(
        &self,
        project_id: &str,
        resource: &str,
        limit: i64,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO compute_quotas (project_id, resource, hard_limit) VALUES ($1, $2, $3) \
             ON CONFLICT (project_id, resource) DO UPDATE SET hard_limit = $3",
        )
        .bind(project_id)
        .bind(resource)
        .bind(limit)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Removes a project's own limits (it falls back to the defaults).
    pub async fn delete_compute_quotas(&self, project_id: &str) -> Result<()> {
        sqlx::query("DELETE FROM compute_quotas WHERE project_id = $1")
            .bind(project_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The limits a quota class sets.
    pub async fn quota_class(&self, class_name: &str) -> Result<Vec<(String, i64)>> {
        Ok(sqlx::query_as(
            "SELECT resource, hard_limit FROM compute_quota_classes WHERE class_name = $1",
        )
        .bind(class_name)
        .fetch_all(&self.pool)
        .await?)
    }

    pub async fn set_quota_class(
        &self,
        class_name: &str,
        resource: &str,
        limit: i64,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO compute_quota_classes (class_name, resource, hard_limit) VALUES ($1, $2, $3) \
             ON CONFLICT (class_name, resource) DO UPDATE SET hard_limit = $3",
        )
        .bind(class_name)
        .bind(resource)
        .bind(limit)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn pod_binding(&self, project_id: &str, az: &str) -> Result<Option<String>> {
        let row: Option<(String,)> = sqlx::query_as(
            "SELECT pod_id FROM pod_bindings WHERE project_id = $1 AND az_name = $2",
        )
        .bind(project_id)
        .bind(az)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| r.0))
    }

    pub async fn set_pod_binding(
        &self,
        project_id: &str,
        az: &str,
        pod_id: &str,
        now: i64,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO pod_bindings (project_id, az_name, pod_id, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (project_id, az_name) DO UPDATE SET pod_id = $3",
        )
        .bind(project_id)
        .bind(az)
        .bind(pod_id)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn watermark(&self, pod_id: &str, resource: &str) -> Result<Option<i64>> {
        let row: Option<(i64,)> =
            sqlx::query_as("SELECT mark FROM watermarks WHERE pod_id = $1 AND resource = $2")
                .bind(pod_id)
                .bind(resource)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.map(|r| r.0))
    }

    pub async fn set_watermark(&self, pod_id: &str, resource: &str, mark: i64) -> Result<()> {
        sqlx::query(
            "INSERT INTO watermarks (pod_id, resource, mark) VALUES ($1, $2, $3) \
             ON CONFLICT (pod_id, resource) DO UPDATE SET mark = $3",
        )
        .bind(pod_id)
        .bind(resource)
        .bind(mark)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}

type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>;

fn bind_server<'q>(q: AnyQuery<'q>, s: &'q ServerRow) -> AnyQuery<'q> {
    q.bind(&s.id)
        .bind(&s.project_id)
        .bind(&s.user_id)
        .bind(&s.name)
        .bind(&s.status)
        .bind(&s.vm_state)
        .bind(&s.task_state)
        .bind(s.power_state)
        .bind(&s.pod_id)
        .bind(&s.az)
        .bind(&s.flavor)
        .bind(s.vcpus)
        .bind(s.ram)
        .bind(&s.image_id)
        .bind(&s.key_name)
        .bind(&s.metadata)
        .bind(&s.tags)
        .bind(&s.host_id)
        .bind(&s.fault)
        .bind(i64::from(s.locked))
        .bind(&s.locked_reason)
        .bind(&s.description)
        .bind(&s.access_ipv4)
        .bind(&s.access_ipv6)
        .bind(&s.config_drive)
        .bind(&s.security_groups)
        .bind(&s.server_group_id)
        .bind(&s.request)
        .bind(&s.bottom_id)
        .bind(&s.addresses)
        .bind(&s.volumes)
        .bind(s.launched_at)
        .bind(s.terminated_at)
        .bind(s.created_at)
        .bind(s.updated_at)
        .bind(i64::from(s.deleted))
        .bind(s.deleted_at)
        .bind(&s.host)
}
