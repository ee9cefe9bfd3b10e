//! Glance's metadata definitions catalog: `metadef_namespaces` (one row per namespace, with a
//! surrogate id so a rename keeps its contents), `metadef_resource_types` (shared by all
//! namespaces; Glance's own are seeded by the migration and protected), their associations
//! with namespaces (`metadef_ns_resource_types`), and `metadef_items`, the objects, properties
//! and tags of a namespace as one JSON document each. Deleting a namespace deletes its contents
//! (foreign keys with `ON DELETE CASCADE`). Visibility rules are the caller's: this module only
//! narrows namespace listings to what a project may see.

use sqlx::FromRow;

use crate::{Flag, Result, Store, StoreError};

/// One namespace.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct NamespaceRow {
    pub id: String,
    pub namespace: String,
    pub display_name: Option<String>,
    pub description: Option<String>,
    pub visibility: String,
    #[sqlx(try_from = "Flag")]
    pub protected: bool,
    pub owner: String,
    pub created_at: i64,
    pub updated_at: i64,
}

/// One resource type.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct ResourceTypeRow {
    pub name: String,
    #[sqlx(try_from = "Flag")]
    pub protected: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

/// One association of a resource type with a namespace.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct AssociationRow {
    pub resource_type: String,
    pub prefix: Option<String>,
    pub properties_target: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// The kinds of [`ItemRow`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemKind {
    Object,
    Property,
    Tag,
}

impl ItemKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ItemKind::Object => "object",
            ItemKind::Property => "property",
            ItemKind::Tag => "tag",
        }
    }
}

/// One object, property or tag of a namespace; `doc` is its JSON document.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct ItemRow {
    pub name: String,
    pub doc: String,
    pub created_at: i64,
    pub updated_at: i64,
}

const NS_COLS: &str = "id, namespace, display_name, description, visibility, protected, owner, created_at, updated_at";

impl Store {
    /// Inserts a namespace; [`StoreError::Conflict`] when its name is taken.
    pub async fn insert_metadef_namespace(&self, n: &NamespaceRow) -> Result<()> {
        sqlx::query(sql!(
            "INSERT INTO metadef_namespaces ({NS_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
        ))
        .bind(&n.id)
        .bind(&n.namespace)
        .bind(&n.display_name)
        .bind(&n.description)
        .bind(&n.visibility)
        .bind(i64::from(n.protected))
        .bind(&n.owner)
        .bind(n.created_at)
        .bind(n.updated_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// A namespace by its (unique) name.
    pub async fn get_metadef_namespace(&self, namespace: &str) -> Result<NamespaceRow> {
        Ok(sqlx::query_as(sql!(
            "SELECT {NS_COLS} FROM metadef_namespaces WHERE namespace = $1"
        ))
        .bind(namespace)
        .fetch_one(&self.pool)
        .await?)
    }

    /// Every namespace `project` may see (its own and the public ones), or every namespace
    /// when `project` is `None`; oldest first.
    pub async fn list_metadef_namespaces(
        &self,
        project: Option<&str>,
    ) -> Result<Vec<NamespaceRow>> {
        Ok(sqlx::query_as(sql!(
            "SELECT {NS_COLS} FROM metadef_namespaces \
             WHERE $1 IS NULL OR owner = $1 OR visibility = 'public' ORDER BY created_at, namespace"
        ))
        .bind(project)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Rewrites a namespace's fields (by id); [`StoreError::Conflict`] when renamed onto
    /// another namespace's name.
    pub async fn update_metadef_namespace(&self, n: &NamespaceRow) -> Result<()> {
        let done = sqlx::query(
            "UPDATE metadef_namespaces SET namespace = $2, display_name = $3, description = $4, \
             visibility = $5, protected = $6, owner = $7, updated_at = $8 WHERE id = $1",
        )
        .bind(&n.id)
        .bind(&n.namespace)
        .bind(&n.display_name)
        .bind(&n.description)
        .bind(&n.visibility)
        .bind(i64::from(n.protected))
        .bind(&n.owner)
        .bind(n.updated_at)
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    /// Deletes a namespace with its associations, objects, properties and tags.
    pub async fn delete_metadef_namespace(&self, id: &str) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM metadef_items WHERE namespace_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM metadef_ns_resource_types WHERE namespace_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let done = sqlx::query("DELETE FROM metadef_namespaces WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        tx.commit().await?;
        Ok(())
    }

    /// Every resource type, by name.
    pub async fn list_metadef_resource_types(&self) -> Result<Vec<ResourceTypeRow>> {
        Ok(sqlx::query_as(
            "SELECT name, protected, created_at, updated_at FROM metadef_resource_types ORDER BY name",
        )
        .fetch_all(&self.pool)
        .await?)
    }

    /// Associates a resource type with a namespace, creating the resource type (unprotected)
    /// when it does not exist yet, as Glance does; [`StoreError::Conflict`] when already
    /// associated.
    pub async fn insert_metadef_association(
        &self,
        namespace_id: &str,
        a: &AssociationRow,
    ) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO metadef_resource_types (name, protected, created_at, updated_at) \
             VALUES ($1, 0, $2, $2) ON CONFLICT (name) DO NOTHING",
        )
        .bind(&a.resource_type)
        .bind(a.created_at)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO metadef_ns_resource_types (namespace_id, resource_type, prefix, \
             properties_target, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(namespace_id)
        .bind(&a.resource_type)
        .bind(&a.prefix)
        .bind(&a.properties_target)
        .bind(a.created_at)
        .bind(a.updated_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The resource types associated with a namespace, oldest first.
    pub async fn list_metadef_associations(
        &self,
        namespace_id: &str,
    ) -> Result<Vec<AssociationRow>> {
        Ok(sqlx::query_as(
            "SELECT resource_type, prefix, properties_target, created_at, updated_at \
             FROM metadef_ns_resource_types WHERE namespace_id = $1 ORDER BY created_at, resource_type",
        )
        .bind(namespace_id)
        .fetch_all(&self.pool)
        .await?)
    }

    /// The ids of the namespaces associated with any of `resource_types`.
    pub async fn metadef_namespaces_of_types(
        &self,
        resource_types: &[String],
    ) -> Result<Vec<String>> {
        let rows: Vec<(String, String)> =
            sqlx::query_as("SELECT namespace_id, resource_type FROM metadef_ns_resource_types")
                .fetch_all(&self.pool)
                .await?;
        Ok(rows
            .into_iter()
            .filter(|(_, rt)| resource_types.contains(rt))
            .map(|(id, _)| id)
            .collect())
    }

    /// Removes one association; [`StoreError::NotFound`] when there is none.
    pub async fn delete_metadef_association(
        &self,
        namespace_id: &str,
        resource_type: &str,
    ) -> Result<()> {
        let done = sqlx::query(
            "DELETE FROM metadef_ns_resource_types WHERE namespace_id = $1 AND resource_type = $2",
        )
        .bind(namespace_id)
        .bind(resource_type)
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    /// Inserts one item; [`StoreError::Conflict`] when its name is taken in its kind.
    pub async fn insert_metadef_item(
        &self,
        namespace_id: &str,
        kind: ItemKind,
        i: &ItemRow,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO metadef_items (namespace_id, kind, name, doc, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(namespace_id)
        .bind(kind.as_str())
        .bind(&i.name)
        .bind(&i.doc)
        .bind(i.created_at)
        .bind(i.updated_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Inserts several items at once, after deleting every item of that kind unless `append`;
    /// all or nothing ([`StoreError::Conflict`] on a duplicate name).
    pub async fn insert_metadef_items(
        &self,
        namespace_id: &str,
        kind: ItemKind,
        items: &[ItemRow],
        append: bool,
    ) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        if !append {
            sqlx::query("DELETE FROM metadef_items WHERE namespace_id = $1 AND kind = $2")
                .bind(namespace_id)
                .bind(kind.as_str())
                .execute(&mut *tx)
                .await?;
        }
        for i in items {
            sqlx::query(
                "INSERT INTO metadef_items (namespace_id, kind, name, doc, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(namespace_id)
            .bind(kind.as_str())
            .bind(&i.name)
            .bind(&i.doc)
            .bind(i.created_at)
            .bind(i.updated_at)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn get_metadef_item(
        &self,
        namespace_id: &str,
        kind: ItemKind,
        name: &str,
    ) -> Result<ItemRow> {
        Ok(sqlx::query_as(
            "SELECT name, doc, created_at, updated_at FROM metadef_items \
             WHERE namespace_id = $1 AND kind = $2 AND name = $3",
        )
        .bind(namespace_id)
        .bind(kind.as_str())
        .bind(name)
        .fetch_one(&self.pool)
        .await?)
    }

    /// The items of one kind in a namespace, oldest first.
    pub async fn list_metadef_items(
        &self,
        namespace_id: &str,
        kind: ItemKind,
    ) -> Result<Vec<ItemRow>> {
        Ok(sqlx::query_as(
            "SELECT name, doc, created_at, updated_at FROM metadef_items \
             WHERE namespace_id = $1 AND kind = $2 ORDER BY created_at, name",
        )
        .bind(namespace_id)
        .bind(kind.as_str())
        .fetch_all(&self.pool)
        .await?)
    }

    /// Renames and rewrites the item `old_name`; [`StoreError::Conflict`] when the new name
    /// is taken.
    pub async fn update_metadef_item(
        &self,
        namespace_id: &str,
        kind: ItemKind,
        old_name: &str,
        i: &ItemRow,
    ) -> Result<()> {
        let done = sqlx::query(
            "UPDATE metadef_items SET name = $4, doc = $5, updated_at = $6 \
             WHERE namespace_id = $1 AND kind = $2 AND name = $3",
        )
        .bind(namespace_id)
        .bind(kind.as_str())
        .bind(old_name)
        .bind(&i.name)
        .bind(&i.doc)
        .bind(i.updated_at)
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    /// Deletes one item; [`StoreError::NotFound`] when there is none.
    pub async fn delete_metadef_item(
        &self,
        namespace_id: &str,
        kind: ItemKind,
        name: &str,
    ) -> Result<()> {
        let done = sqlx::query(
            "DELETE FROM metadef_items WHERE namespace_id = $1 AND kind = $2 AND name = $3",
        )
        .bind(namespace_id)
        .bind(kind.as_str())
        .bind(name)
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    /// Deletes every item of one kind in a namespace.
    pub async fn delete_metadef_items(&self, namespace_id: &str, kind: ItemKind) -> Result<()> {
        sqlx::query("DELETE FROM metadef_items WHERE namespace_id = $1 AND kind = $2")
            .bind(namespace_id)
            .bind(kind.as_str())
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
