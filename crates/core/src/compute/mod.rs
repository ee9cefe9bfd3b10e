//! Compute across pods: the Nova gateway's logic. Each server lives in one pod; the top keeps
//! the index of servers, the flavors and keypairs (authoritative), and runs the server build
//! saga as a durable job. `deps` holds the interfaces to networking and images.

pub mod deps;
