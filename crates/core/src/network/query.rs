//! Neutron's list semantics over rendered documents: filters on any attribute (repeated keys
//! are OR-ed, booleans case-insensitive, list attributes match any element, `fixed_ips=
//! subnet_id=X` / `ip_address=Y`), the tag filters (`tags`, `tags-any`, `not-tags`,
//! `not-tags-any`), `sort_key`/`sort_dir`, `limit`/`marker` (with `page_reverse`) and
//! `fields`. The HTTP layer parses the query string into [`ListQuery`] and renders the links.

use std::cmp::Ordering;

use serde_json::Value;

use super::NetError;

/// A parsed list query: `(key, value)` pairs in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListQuery(pub Vec<(String, String)>);

const NON_FILTERS: &[&str] = &[
    "fields",
    "sort_key",
    "sort_dir",
    "limit",
    "marker",
    "page_reverse",
    "tags",
    "tags-any",
    "not-tags",
    "not-tags-any",
    "verbose",
];

/// One page of a list, and whether more follow (or precede, with `page_reverse`).
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    pub items: Vec<Value>,
    /// The id to use as the next page's marker, when there is one.
    pub next_marker: Option<String>,
    /// The id to use as the previous page's marker, when a marker was given.
    pub prev_marker: Option<String>,
    pub limit: Option<usize>,
}

impl ListQuery {
    pub fn all(&self, key: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The value of an exact-match filter on `key`, when exactly one is given.
    pub fn filter_value(&self, key: &str) -> Option<&str> {
        match self.all(key).as_slice() {
            [one] => Some(one),
            _ => None,
        }
    }

    /// Requested `fields` (empty: all).
    pub fn fields(&self) -> Vec<&str> {
        self.all("fields")
            .into_iter()
            .flat_map(|f| f.split(','))
            .filter(|f| !f.is_empty())
            .collect()
    }

    /// Whether `doc` passes every filter.
    pub fn matches(&self, doc: &Value) -> bool {
        let mut keys: Vec<&str> = self
            .0
            .iter()
            .map(|(k, _)| k.as_str())
            .filter(|k| !NON_FILTERS.contains(k))
            .collect();
        keys.sort_unstable();
        keys.dedup();
        for k in keys {
            let wants = self.all(k);
            if k == "fixed_ips" {
                let fixed = doc["fixed_ips"].as_array().cloned().unwrap_or_default();
                for w in &wants {
                    let Some((fk, fv)) = w.split_once('=') else {
                        continue;
                    };
                    let hit = fixed.iter().any(|f| {
                        f[fk].as_str() == Some(fv)
                            || (fk == "ip_address_substr"
                                && f["ip_address"].as_str().is_some_and(|ip| ip.contains(fv)))
                    });
                    if !hit {
                        return false;
                    }
                }
                continue;
            }
            // Neutron ignores filters on attributes the resource does not have.
            let Some(field) = doc.get(k) else { continue };
            let ok = match field {
                Value::Array(items) => items
                    .iter()
                    .any(|i| scalar(i).is_some_and(|s| wants.contains(&s.as_str()))),
                _ => scalar(field).is_some_and(|s| {
                    wants
                        .iter()
                        .any(|w| *w == s || (field.is_boolean() && w.eq_ignore_ascii_case(&s)))
                }),
            };
            if !ok {
                return false;
            }
        }
        let tags: Vec<&str> = doc["tags"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let set = |k: &str| -> Vec<&str> {
            self.all(k)
                .into_iter()
                .flat_map(|x| x.split(','))
                .filter(|t| !t.is_empty())
                .collect()
        };
        let (all, any, not_all, not_any) = (
            set("tags"),
            set("tags-any"),
            set("not-tags"),
            set("not-tags-any"),
        );
        all.iter().all(|t| tags.contains(t))
            && (any.is_empty() || any.iter().any(|t| tags.contains(t)))
            && (not_all.is_empty() || !not_all.iter().all(|t| tags.contains(t)))
            && !not_any.iter().any(|t| tags.contains(t))
    }

    /// Filters, sorts and pages `docs` (each with an `id`), then keeps `fields`.
    pub fn apply(&self, docs: Vec<Value>) -> Result<Page, NetError> {
        let mut items: Vec<Value> = docs.into_iter().filter(|d| self.matches(d)).collect();
        let keys = self.all("sort_key");
        let dirs = self.all("sort_dir");
        for d in &dirs {
            if !d.eq_ignore_ascii_case("asc") && !d.eq_ignore_ascii_case("desc") {
                return Err(NetError::bad_request(format!(
                    "Bad request: sort_dir must be 'asc' or 'desc', not '{d}'."
                )));
            }
        }
        items.sort_by(|a, b| {
            for (i, k) in keys.iter().enumerate() {
                let o = cmp_json(&a[*k], &b[*k]);
                let o = if dirs.get(i).is_some_and(|d| d.eq_ignore_ascii_case("desc")) {
                    o.reverse()
                } else {
                    o
                };
                if o != Ordering::Equal {
                    return o;
                }
            }
            cmp_json(&a["id"], &b["id"])
        });
        let reverse = self
            .get("page_reverse")
            .is_some_and(|v| v.eq_ignore_ascii_case("true"));
        if reverse {
            items.reverse();
        }
        let limit = match self.get("limit") {
            Some(l) => Some(l.parse::<usize>().map_err(|_| {
                NetError::bad_request(format!(
                    "Bad limit request: Limit must be an integer 0 or greater and not '{l}'"
                ))
            })?)
            .filter(|l| *l > 0),
            None => None,
        };
        let marker = self.get("marker");
        if let Some(m) = marker {
            let pos = items
                .iter()
                .position(|v| v["id"].as_str() == Some(m))
                .ok_or_else(|| {
                    NetError::new(
                        404,
                        "MarkerNotFound",
                        format!("Marker {m} could not be found."),
                    )
                })?;
            items.drain(..=pos);
        }
        let mut next_marker = None;
        if let Some(l) = limit
            && items.len() > l
        {
            items.truncate(l);
            next_marker = items
                .last()
                .and_then(|v| v["id"].as_str())
                .map(str::to_string);
        }
        let prev_marker = marker
            .and(items.first())
            .and_then(|v| v["id"].as_str())
            .map(str::to_string);
        if reverse {
            items.reverse();
        }
        let fields = self.fields();
        if !fields.is_empty() {
            for it in &mut items {
                if let Some(o) = it.as_object_mut() {
                    o.retain(|k, _| fields.contains(&k.as_str()));
                }
            }
        }
        Ok(Page {
            items,
            next_marker,
            prev_marker,
            limit,
        })
    }
}

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(if *b { "True".into() } else { "False".into() }),
        Value::Number(n) => Some(n.to_string()),
        Value::Null => Some(String::new()),
        _ => None,
    }
}

/// Orders JSON values: nulls first, then numbers, strings, booleans.
pub fn cmp_json(a: &Value, b: &Value) -> Ordering {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x
            .as_f64()
            .partial_cmp(&y.as_f64())
            .unwrap_or(Ordering::Equal),
        (Value::String(x), Value::String(y)) => x.cmp(y),
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        (Value::Null, Value::Null) => Ordering::Equal,
        (Value::Null, _) => Ordering::Less,
        (_, Value::Null) => Ordering::Greater,
        _ => a.to_string().cmp(&b.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn q(pairs: &[(&str, &str)]) -> ListQuery {
        ListQuery(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    #[test]
    fn filters_sort_page_fields() {
        let docs: Vec<Value> = (0..5)
            .map(|i| json!({"id": format!("id{i}"), "name": format!("n{}", i % 2), "shared": i == 3, "tags": if i < 2 {json!(["a"])} else {json!([])}}))
            .collect();
        let p = q(&[("name", "n1")]).apply(docs.clone()).unwrap();
        assert_eq!(p.items.len(), 2);
        let p = q(&[("shared", "true")]).apply(docs.clone()).unwrap();
        assert_eq!(p.items[0]["id"], "id3");
        let p = q(&[("tags", "a")]).apply(docs.clone()).unwrap();
        assert_eq!(p.items.len(), 2);
        let p = q(&[("not-tags", "a")]).apply(docs.clone()).unwrap();
        assert_eq!(p.items.len(), 3);
        let p = q(&[("sort_key", "id"), ("sort_dir", "desc"), ("limit", "2")])
            .apply(docs.clone())
            .unwrap();
        assert_eq!(p.items[0]["id"], "id4");
        assert_eq!(p.next_marker.as_deref(), Some("id3"));
        let p = q(&[
            ("sort_key", "id"),
            ("sort_dir", "desc"),
            ("limit", "2"),
            ("marker", "id3"),
        ])
        .apply(docs.clone())
        .unwrap();
        assert_eq!(p.items[0]["id"], "id2");
        assert_eq!(p.prev_marker.as_deref(), Some("id2"));
        let p = q(&[("fields", "id")]).apply(docs.clone()).unwrap();
        assert_eq!(p.items[0], json!({"id": "id0"}));
        assert!(q(&[("marker", "nope")]).apply(docs).is_err());
    }
}
