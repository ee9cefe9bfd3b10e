//! OpenStack wire vocabulary shared by every Cascade crate: request ids, per-service error bodies,
//! Keystone v3 documents and the admin API (`/v1.0`) documents. Nothing here performs I/O.

pub mod admin;
pub mod fault;
pub mod identity;
pub mod microversion;
pub mod redact;
pub mod request_id;
pub mod time;
