//! `cascade image …`: the operator's view of the global Glance through the admin API. `copies`
//! shows where an image's bytes are (each pod copy with its state and a progress bar from
//! `GET /v1.0/images/{id}/copies`, or every copy from `/v1.0/image-copies`; `--watch` refreshes
//! until no copy is running), `copy` asks for a copy to a pod, `register` adopts an image that
//! already exists in a pod (register mode).

use std::time::Duration;

use anyhow::{Context, bail};
use serde_json::{Value, json};

use crate::cli::{ImageCommand, OperatorArgs};
use crate::operator::{Session, table};

const BAR: usize = 24;

/// A text progress bar: `[#########---------------]  37%`.
fn bar(done: i64, total: Option<i64>, state: &str) -> String {
    let frac = match (state, total) {
        ("active", _) => 1.0,
        (_, Some(t)) if t > 0 => (done as f64 / t as f64).clamp(0.0, 1.0),
        _ => 0.0,
    };
    let filled = (frac * BAR as f64).round() as usize;
    format!(
        "[{}{}] {:>3}%",
        "#".repeat(filled),
        "-".repeat(BAR - filled),
        (frac * 100.0).round() as u64
    )
}

fn human(bytes: i64) -> String {
    let b = bytes.max(0) as f64;
    for (unit, size) in [("GiB", 1u64 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)] {
        if b >= size as f64 {
            return format!("{:.1} {unit}", b / size as f64);
        }
    }
    format!("{bytes} B")
}

/// Finds an image id from an id or a name (through Glance).
async fn image_id(session: &Session, image: &str) -> anyhow::Result<String> {
    let get = |path: String| {
        session
            .http
            .get(format!("{}/image{path}", session.base))
            .header("x-auth-token", &session.token)
            .send()
    };
    let r = get(format!("/v2/images/{image}"))
        .await
        .context("cannot reach Cascade")?;
    if r.status().is_success() {
        return Ok(image.to_string());
    }
    let list: Value = get(format!("/v2/images?name={image}"))
        .await
        .context("cannot reach Cascade")?
        .json()
        .await
        .unwrap_or(Value::Null);
    match list["images"].as_array().map(Vec::as_slice) {
        Some([one]) => Ok(one["id"].as_str().unwrap_or_default().to_string()),
        Some([]) | None => bail!("no image with id or name {image}"),
        Some(_) => bail!("more than one image is named {image}; use its id"),
    }
}

fn print_copies(session: &Session, copies: &Value) {
    if session.json {
        println!(
            "{}",
            serde_json::to_string_pretty(copies).unwrap_or_default()
        );
        return;
    }
    let mut t = table(&[
        "Image",
        "AZ",
        "Region",
        "State",
        "Progress",
        "Bytes",
        "Attempts",
        "Bottom id",
        "Error",
    ]);
    for c in copies.as_array().into_iter().flatten() {
        let state = c["state"].as_str().unwrap_or_default();
        let done = c["bytes_done"].as_i64().unwrap_or(0);
        let total = c["bytes_total"].as_i64();
        t.add_row([
            c["image_id"].as_str().unwrap_or_default().to_string(),
            c["az_name"].as_str().unwrap_or_default().to_string(),
            c["region_name"].as_str().unwrap_or_default().to_string(),
            state.to_string(),
            bar(done, total, state),
            match total {
                Some(t) => format!("{} / {}", human(done), human(t)),
                None => human(done),
            },
            c["attempts"].to_string(),
            c["bottom_id"].as_str().unwrap_or_default().to_string(),
            c["error"].as_str().unwrap_or_default().to_string(),
        ]);
    }
    println!("{t}");
}

pub(crate) async fn run(args: OperatorArgs, cmd: ImageCommand) -> anyhow::Result<()> {
    let session = Session::open(&args).await?;
    match cmd {
        ImageCommand::Copies { image, watch } => {
            let path = match &image {
                Some(i) => format!("/images/{}/copies", image_id(&session, i).await?),
                None => "/image-copies".to_string(),
            };
            loop {
                let v = session.call(reqwest::Method::GET, &path, None).await?;
                let copies = v["copies"].clone();
                print_copies(&session, &copies);
                let running = copies
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|c| matches!(c["state"].as_str(), Some("pending" | "copying")));
                if !watch || !running {
                    return Ok(());
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
        ImageCommand::Copy { image, pod_id } => {
            let id = image_id(&session, &image).await?;
            let v = session
                .call(
                    reqwest::Method::POST,
                    &format!("/images/{id}/copies"),
                    Some(json!({"copy": {"pod_id": pod_id}})),
                )
                .await?;
            print_copies(&session, &v["copies"]);
            Ok(())
        }
        ImageCommand::Register {
            pod_id,
            bottom_id,
            image_id: top,
            name,
            visibility,
            owner,
        } => {
            let mut body = json!({"pod_id": pod_id, "bottom_id": bottom_id});
            for (k, v) in [
                ("image_id", top),
                ("name", name),
                ("visibility", visibility),
                ("owner", owner),
            ] {
                if let Some(v) = v {
                    body[k] = json!(v);
                }
            }
            let v = session
                .call(
                    reqwest::Method::POST,
                    "/images/register",
                    Some(json!({"image": body})),
                )
                .await?;
            let img = &v["image"];
            if session.json {
                println!("{}", serde_json::to_string_pretty(img).unwrap_or_default());
            } else {
                let mut t = table(&["Field", "Value"]);
                for k in [
                    "id",
                    "name",
                    "status",
                    "visibility",
                    "owner",
                    "size",
                    "checksum",
                ] {
                    t.add_row([
                        k.to_string(),
                        img[k].to_string().trim_matches('"').to_string(),
                    ]);
                }
                println!("{t}");
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_bar() {
        assert_eq!(
            bar(0, Some(100), "copying"),
            format!("[{}]   0%", "-".repeat(BAR))
        );
        assert_eq!(
            bar(50, Some(100), "copying"),
            format!("[{}{}]  50%", "#".repeat(12), "-".repeat(12))
        );
        assert_eq!(
            bar(0, None, "active"),
            format!("[{}] 100%", "#".repeat(BAR))
        );
        assert_eq!(human(3 << 20), "3.0 MiB");
    }
}
