//! Central networking's tables (migration `0004_network`): every Neutron resource Cascade owns
//! is one `net_resources` row holding its JSON document plus the columns lookups need
//! (`kind`, `project_id`, `parent_id` = the network of a subnet or port / the group of a
//! rule, `device_id`, `pod_id` = where a port is bound or a network is pinned). What must
//! never be handed out twice has its own table whose primary key is the real guard:
//! `net_ip_allocations (subnet_id, ip)`, `net_macs (mac)`, `net_segments (type, physnet, id)`
//! and `net_bridges (project_id)` / `cidr`. A conflict on one of them comes back as
//! [`StoreError::Conflict`] whose message starts with `ip_address`, `mac_address` or
//! `segment` so the caller can render Neutron's error.

use sqlx::{Any, FromRow, Transaction};

use crate::{Result, Store, StoreError, now_micros};

/// A stored Neutron resource.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct NetResourceRow {
    pub id: String,
    /// `network`, `subnet`, `port`, `router`, `security_group`, `security_group_rule`,
    /// `floatingip`.
    pub kind: String,
    pub project_id: String,
    pub parent_id: Option<String>,
    pub device_id: Option<String>,
    pub pod_id: Option<String>,
    /// The Neutron JSON document.
    pub body: String,
    pub created_at: i64,
    pub updated_at: i64,
}

/// One allocated address.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct IpAllocation {
    pub subnet_id: String,
    pub ip: String,
    pub network_id: String,
    /// The port (or reservation key) holding the address.
    pub owner_id: String,
}

/// A project's bridge network CIDR (cross-pod L3).
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct BridgeRow {
    pub project_id: String,
    pub cidr: String,
    pub created_at: i64,
}

/// A segment id claim.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct SegmentRow {
    pub network_type: String,
    pub physical_network: String,
    pub segmentation_id: i64,
    pub owner_id: String,
}

const RES_COLS: &str =
    "id, kind, project_id, parent_id, device_id, pod_id, body, created_at, updated_at";

fn conflict_of(err: StoreError, what: String) -> StoreError {
    match err {
        StoreError::Conflict(_) => StoreError::Conflict(what),
        other => other,
    }
}

async fn insert_ips(tx: &mut Transaction<'_, Any>, ips: &[IpAllocation]) -> Result<()> {
    let now = now_micros();
    for a in ips {
        sqlx::query(
            "INSERT INTO net_ip_allocations (subnet_id, ip, network_id, owner_id, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&a.subnet_id)
        .bind(&a.ip)
        .bind(&a.network_id)
        .bind(&a.owner_id)
        .bind(now)
        .execute(&mut **tx)
        .await
        .map_err(|e| conflict_of(e.into(), format!("ip_address {} {}", a.subnet_id, a.ip)))?;
    }
    Ok(())
}

async fn insert_macs(tx: &mut Transaction<'_, Any>, macs: &[(String, String)]) -> Result<()> {
    let now = now_micros();
    for (mac, owner) in macs {
        sqlx::query("INSERT INTO net_macs (mac, owner_id, created_at) VALUES ($1, $2, $3)")
            .bind(mac)
            .bind(owner)
            .bind(now)
            .execute(&mut **tx)
            .await
            .map_err(|e| conflict_of(e.into(), format!("mac_address {mac}")))?;
    }
    Ok(())
}

impl Store {
    /// Inserts a resource together with the addresses and MACs it holds, all or nothing.
    pub async fn insert_net_resource(
        &self,
        row: &NetResourceRow,
        ips: &[IpAllocation],
        macs: &[(String, String)],
    ) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        insert_ips(&mut tx, ips).await?;
        insert_macs(&mut tx, macs).await?;
        sqlx::query(
            "INSERT INTO net_resources (id, kind, project_id, parent_id, device_id, pod_id, body, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(&row.id)
        .bind(&row.kind)
        .bind(&row.project_id)
        .bind(&row.parent_id)
        .bind(&row.device_id)
        .bind(&row.pod_id)
        .bind(&row.body)
        .bind(row.created_at)
        .bind(row.updated_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Rewrites a resource's document and lookup columns; `add_ips` are claimed and
    /// `drop_ips` (addresses of this resource) released in the same transaction, as are
    /// `add_macs` / `drop_macs`.
    pub async fn update_net_resource(
        &self,
        row: &NetResourceRow,
        add_ips: &[IpAllocation],
        drop_ips: &[IpAllocation],
        add_macs: &[(String, String)],
        drop_macs: &[String],
    ) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        for a in drop_ips {
            sqlx::query(
                "DELETE FROM net_ip_allocations WHERE subnet_id = $1 AND ip = $2 AND owner_id = $3",
            )
            .bind(&a.subnet_id)
            .bind(&a.ip)
            .bind(&a.owner_id)
            .execute(&mut *tx)
            .await?;
        }
        for m in drop_macs {
            sqlx::query("DELETE FROM net_macs WHERE mac = $1 AND owner_id = $2")
                .bind(m)
                .bind(&row.id)
                .execute(&mut *tx)
                .await?;
        }
        insert_ips(&mut tx, add_ips).await?;
        insert_macs(&mut tx, add_macs).await?;
        let done = sqlx::query(
            "UPDATE net_resources SET parent_id = $2, device_id = $3, pod_id = $4, body = $5, updated_at = $6 \
             WHERE id = $1",
        )
        .bind(&row.id)
        .bind(&row.parent_id)
        .bind(&row.device_id)
        .bind(&row.pod_id)
        .bind(&row.body)
        .bind(now_micros())
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        tx.commit().await?;
        Ok(())
    }

    /// Deletes a resource with every address, MAC and segment it holds.
    pub async fn delete_net_resource(&self, id: &str) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        for stmt in [
            "DELETE FROM net_ip_allocations WHERE owner_id = $1",
            "DELETE FROM net_macs WHERE owner_id = $1",
            "DELETE FROM net_segments WHERE owner_id = $1",
        ] {
            sqlx::query(stmt).bind(id).execute(&mut *tx).await?;
        }
        let done = sqlx::query("DELETE FROM net_resources WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn get_net_resource(&self, id: &str) -> Result<NetResourceRow> {
        Ok(
            sqlx::query_as(sql!("SELECT {RES_COLS} FROM net_resources WHERE id = $1"))
                .bind(id)
                .fetch_one(&self.pool)
                .await?,
        )
    }

    /// Resources of a kind, of one project or all, oldest first.
    pub async fn list_net_resources(
        &self,
        kind: &str,
        project_id: Option<&str>,
    ) -> Result<Vec<NetResourceRow>> {
        Ok(sqlx::query_as(sql!(
            "SELECT {RES_COLS} FROM net_resources WHERE kind = $1 AND ($2 IS NULL OR project_id = $2) \
             ORDER BY created_at, id"
        ))
        .bind(kind)
        .bind(project_id)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Resources of a kind whose `parent_id` is `parent_id` (subnets and ports of a network,
    /// rules of a group), oldest first.
    pub async fn net_children(&self, kind: &str, parent_id: &str) -> Result<Vec<NetResourceRow>> {
        Ok(sqlx::query_as(sql!(
            "SELECT {RES_COLS} FROM net_resources WHERE kind = $1 AND parent_id = $2 ORDER BY created_at, id"
        ))
        .bind(kind)
        .bind(parent_id)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Resources of a kind attached to `device_id` (a server's or router's ports).
    pub async fn net_by_device(&self, kind: &str, device_id: &str) -> Result<Vec<NetResourceRow>> {
        Ok(sqlx::query_as(sql!(
            "SELECT {RES_COLS} FROM net_resources WHERE kind = $1 AND device_id = $2 ORDER BY created_at, id"
        ))
        .bind(kind)
        .bind(device_id)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Addresses allocated in a subnet.
    pub async fn subnet_allocations(&self, subnet_id: &str) -> Result<Vec<IpAllocation>> {
        Ok(sqlx::query_as(
            "SELECT subnet_id, ip, network_id, owner_id FROM net_ip_allocations WHERE subnet_id = $1",
        )
        .bind(subnet_id)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Addresses held by an owner.
    pub async fn allocations_of(&self, owner_id: &str) -> Result<Vec<IpAllocation>> {
        Ok(sqlx::query_as(
            "SELECT subnet_id, ip, network_id, owner_id FROM net_ip_allocations WHERE owner_id = $1 \
             ORDER BY created_at",
        )
        .bind(owner_id)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Claims addresses for an owner that is not a resource row (a pod's DHCP reservation, a
    /// bottom router's bridge address), all or nothing.
    pub async fn claim_ips(&self, ips: &[IpAllocation]) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        insert_ips(&mut tx, ips).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Releases every address of an owner.
    pub async fn release_ips_of(&self, owner_id: &str) -> Result<u64> {
        Ok(
            sqlx::query("DELETE FROM net_ip_allocations WHERE owner_id = $1")
                .bind(owner_id)
                .execute(&self.pool)
                .await?
                .rows_affected(),
        )
    }

    /// Who holds a MAC address.
    pub async fn mac_owner(&self, mac: &str) -> Result<Option<String>> {
        Ok(
            sqlx::query_scalar("SELECT owner_id FROM net_macs WHERE mac = $1")
                .bind(mac)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    /// Claims a segment id; `Conflict("segment …")` when taken.
    pub async fn claim_segment(&self, seg: &SegmentRow) -> Result<()> {
        sqlx::query(
            "INSERT INTO net_segments (network_type, physical_network, segmentation_id, owner_id, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&seg.network_type)
        .bind(&seg.physical_network)
        .bind(seg.segmentation_id)
        .bind(&seg.owner_id)
        .bind(now_micros())
        .execute(&self.pool)
        .await
        .map_err(|e| {
            conflict_of(
                e.into(),
                format!(
                    "segment {}:{}:{}",
                    seg.network_type, seg.physical_network, seg.segmentation_id
                ),
            )
        })?;
        Ok(())
    }

    /// Segment ids of a type and physical network in use, ascending.
    pub async fn segments_in_use(&self, network_type: &str, physnet: &str) -> Result<Vec<i64>> {
        Ok(sqlx::query_scalar(
            "SELECT segmentation_id FROM net_segments WHERE network_type = $1 AND physical_network = $2 \
             ORDER BY segmentation_id",
        )
        .bind(network_type)
        .bind(physnet)
        .fetch_all(&self.pool)
        .await?)
    }

    /// The segment held by an owner, if any.
    pub async fn segment_of(&self, owner_id: &str) -> Result<Option<SegmentRow>> {
        Ok(sqlx::query_as(
            "SELECT network_type, physical_network, segmentation_id, owner_id FROM net_segments WHERE owner_id = $1",
        )
        .bind(owner_id)
        .fetch_optional(&self.pool)
        .await?)
    }

    pub async fn release_segments_of(&self, owner_id: &str) -> Result<()> {
        sqlx::query("DELETE FROM net_segments WHERE owner_id = $1")
            .bind(owner_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Records a project's bridge CIDR; `Conflict` when the project has one or the CIDR is
    /// taken.
    pub async fn insert_bridge(&self, project_id: &str, cidr: &str) -> Result<BridgeRow> {
        Ok(sqlx::query_as(
            "INSERT INTO net_bridges (project_id, cidr, created_at) VALUES ($1, $2, $3) \
             RETURNING project_id, cidr, created_at",
        )
        .bind(project_id)
        .bind(cidr)
        .bind(now_micros())
        .fetch_one(&self.pool)
        .await?)
    }

    pub async fn get_bridge(&self, project_id: &str) -> Result<Option<BridgeRow>> {
        Ok(sqlx::query_as(
            "SELECT project_id, cidr, created_at FROM net_bridges WHERE project_id = $1",
        )
        .bind(project_id)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Every bridge CIDR in use.
    pub async fn bridge_cidrs(&self) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar("SELECT cidr FROM net_bridges")
            .fetch_all(&self.pool)
            .await?)
    }

    /// How many resources of a kind a project has (quotas).
    pub async fn count_net_resources(&self, kind: &str, project_id: &str) -> Result<i64> {
        Ok(sqlx::query_scalar(
            "SELECT COUNT(*) FROM net_resources WHERE kind = $1 AND project_id = $2",
        )
        .bind(kind)
        .bind(project_id)
        .fetch_one(&self.pool)
        .await?)
    }

    /// Releases every address of a subnet (the subnet is being deleted and holds no ports).
    pub async fn release_subnet_ips(&self, subnet_id: &str) -> Result<u64> {
        Ok(
            sqlx::query("DELETE FROM net_ip_allocations WHERE subnet_id = $1")
                .bind(subnet_id)
                .execute(&self.pool)
                .await?
                .rows_affected(),
        )
    }
}

impl Store {
    /// Per-project Neutron quota overrides.
    pub async fn net_quota_overrides(&self, project_id: &str) -> Result<Vec<(String, i64)>> {
        Ok(
            sqlx::query_as("SELECT resource, hard_limit FROM net_quotas WHERE project_id = $1")
                .bind(project_id)
                .fetch_all(&self.pool)
                .await?,
        )
    }

    pub async fn set_net_quota(&self, project_id: &str, resource: &str, limit: i64) -> Result<()> {
        sqlx::query(
            "INSERT INTO net_quotas (project_id, resource, hard_limit) VALUES ($1, $2, $3) \
             ON CONFLICT (project_id, resource) DO UPDATE SET hard_limit = $3",
        )
        .bind(project_id)
        .bind(resource)
        .bind(limit)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Back to the defaults.
    pub async fn delete_net_quotas(&self, project_id: &str) -> Result<()> {
        sqlx::query("DELETE FROM net_quotas WHERE project_id = $1")
            .bind(project_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
