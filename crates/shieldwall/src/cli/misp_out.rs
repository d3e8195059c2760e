//! `shieldwall export --format misp-feed --out DIR`: a MISP feed directory (`manifest.json`,
//! `hashes.csv`, one `<uuid>.json` per event) that a MISP instance can subscribe to, built by
//! `crates/misp` from the STIX objects the member may see (`--collection C --as MEMBER`: the
//! access policy applies, as over TAXII) or from STIX files (`--indicators`), of which only
//! those whose TLP the `--audience` may receive leave. Only the latest version of each object
//! counts (`super::latest`): a revoked latest version, or one the member may not see, withdraws
//! the object. The
//! identities of the organisations that created what leaves go along for the events' `Orgc`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use serde_json::Value;
use stix::tlp::{TlpLevel, effective_tlp_of};

use super::latest::{self, Withdrawal, Withdrawals};

/// The latest version of every object of a hub collection that `member` may see, withdrawing
/// those whose collection holds a later version the member may not see; the node's default TLP
/// for unmarked objects; the exporting organisation (name, identity uuid).
fn from_collection(
    config: &Path,
    collection: &str,
    member: Option<&str>,
    withdrawals: &mut Withdrawals,
) -> anyhow::Result<(Vec<Value>, TlpLevel, String, uuid::Uuid)> {
    super::serve::runtime()?.block_on(async {
        let node = super::node::Node::open_existing(config).await?;
        let coll = node.collection(collection)?.clone();
        let principal = node.principal(member, shieldwall::config::Role::Reader, "cli:export")?;
        if !shieldwall::policy::can_read(&principal, &coll) {
            bail!(
                "member `{}` may not read collection {}",
                principal.member,
                coll.id
            );
        }
        let (name, org) = node
            .coalition
            .members
            .get(&principal.member)
            .map(|m| {
                let u = m
                    .identity
                    .split_once("--")
                    .and_then(|(_, u)| uuid::Uuid::parse_str(u).ok())
                    .unwrap_or_default();
                (m.name.clone(), u)
            })
            .unwrap_or_else(|| (principal.member.clone(), uuid::Uuid::nil()));
        let mut out = Vec::new();
        latest::for_each_latest(
            &node.store,
            &coll.id,
            shieldwall::policy::Pushdown::for_principal(&principal, &node.coalition),
            &[],
            withdrawals,
            |r| {
                if let Some(json) = r.json.as_deref() {
                    out.push(
                        serde_json::from_str(json)
                            .with_context(|| format!("stored object {} is not JSON", r.row))?,
                    );
                }
                Ok(())
            },
        )
        .await?;
        Ok((out, node.coalition.default_tlp, name, org))
    })
}

/// The latest version of each object of STIX documents (bundles, envelopes, arrays, single
/// objects), across all of them.
fn from_files(files: &[PathBuf], superseded: &mut usize) -> anyhow::Result<Vec<Value>> {
    let mut out = Vec::new();
    for f in files {
        let bytes = std::fs::read(f).with_context(|| format!("cannot read {}", f.display()))?;
        let doc: Value = stix::json::parse(&bytes).map_err(|e| {
            anyhow::anyhow!(
                "{}:{}:{}: not JSON: {}",
                f.display(),
                e.line,
                e.column,
                e.message
            )
        })?;
        match doc {
            Value::Array(a) => out.extend(a),
            Value::Object(mut m) => match m.remove("objects") {
                Some(Value::Array(a)) => out.extend(a),
                Some(_) => bail!("{}: `objects` is not a list", f.display()),
                None => out.push(Value::Object(m)),
            },
            _ => bail!("{}: not a STIX document", f.display()),
        }
    }
    Ok(latest::latest_only(out, |o| o, superseded))
}

/// Writes the feed; `allows` says whether the audience may receive a TLP level.
pub(crate) fn run(
    indicators: &[PathBuf],
    collection: Option<&str>,
    as_member: Option<&str>,
    config: &Path,
    out: Option<&Path>,
    audience: &str,
    allows: &dyn Fn(TlpLevel) -> bool,
) -> anyhow::Result<ExitCode> {
    let Some(dir) = out else {
        bail!("--format misp-feed writes a directory: give --out DIR");
    };
    let mut withdrawals = Withdrawals::default();
    let (objects, default_tlp, org_name, org_uuid) = match collection {
        Some(c) => from_collection(config, c, as_member, &mut withdrawals)?,
        None => (
            from_files(indicators, &mut withdrawals.superseded)?,
            TlpLevel::Amber,
            "Shieldwall".to_owned(),
            uuid::Uuid::nil(),
        ),
    };
    let total = objects.len();
    let (mut withheld, mut revoked) = (0usize, 0usize);
    let mut kept = Vec::with_capacity(objects.len());
    let mut held_identities = Vec::new();
    let now_secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0);
    let at = |o: &Value, k: &str| {
        o.get(k)
            .and_then(Value::as_str)
            .and_then(misp::time::parse_iso)
            .map(|t| t.secs)
    };
    let (mut expired, mut not_yet) = (0usize, 0usize);
    for o in objects {
        // An indicator out of force is not for IDS now: a feed would set `to_ids` on it.
        if o["type"] == "indicator" {
            let why = if at(&o, "valid_until").is_some_and(|u| u <= now_secs) {
                expired += 1;
                Some(Withdrawal::Expired)
            } else if at(&o, "valid_from").is_some_and(|f| f > now_secs) {
                not_yet += 1;
                Some(Withdrawal::NotYetValid)
            } else {
                None
            };
            if let Some(why) = why {
                if let Some(id) = o.get("id").and_then(Value::as_str) {
                    withdrawals.add(id, why);
                }
                continue;
            }
        }
        if o.get("revoked").and_then(Value::as_bool) == Some(true) {
            revoked += 1;
            if let Some(id) = o.get("id").and_then(Value::as_str) {
                withdrawals.add(id, Withdrawal::Revoked);
            }
            continue;
        }
        // Object and granular markings alike: a RED part makes the whole object RED.
        let tlp = effective_tlp_of(&o).unwrap_or(default_tlp);
        // TLP:RED never leaves in an export; the audience decides the rest.
        if tlp == TlpLevel::Red || !allows(tlp) {
            withheld += 1;
            if let Some(id) = o.get("id").and_then(Value::as_str) {
                withdrawals.add(id, Withdrawal::Tlp);
            }
            if tlp != TlpLevel::Red && o["type"] == "identity" {
                held_identities.push(o);
            }
            continue;
        }
        kept.push(o);
    }
    // The organisations that created what leaves are named in each event's `Orgc`: their
    // identities go along (for that only: identities are not exported as attributes) even when
    // their own marking would hold them back, unless RED.
    let creators: std::collections::HashSet<String> = kept
        .iter()
        .filter_map(|o| o.get("created_by_ref").and_then(Value::as_str))
        .map(str::to_owned)
        .collect();
    kept.extend(held_identities.into_iter().filter(|o| {
        o.get("id")
            .and_then(Value::as_str)
            .is_some_and(|id| creators.contains(id))
    }));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0);
    let feed = misp::export_feed(
        &kept,
        &misp::ExportOptions {
            org_name,
            org_uuid,
            now: misp::time::Instant::from_secs(now),
        },
    )?;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    for f in &feed.files {
        let p = dir.join(&f.name);
        std::fs::write(&p, &f.bytes).with_context(|| format!("cannot write {}", p.display()))?;
    }
    for d in &feed.diagnostics {
        eprintln!("shieldwall export: {d}");
    }
    let events = feed
        .files
        .iter()
        .filter(|f| f.name != "manifest.json" && f.name.ends_with(".json"))
        .count();
    withdrawals.print_named("shieldwall export");
    eprintln!(
        "shieldwall export: MISP feed of {events} events written to {} from {} of {total} objects for the {audience} audience; withheld by TLP: {withheld}; revoked: {revoked}; expired: {expired}; not yet valid: {not_yet}; diagnostics: {}; {}",
        dir.display(),
        kept.len(),
        feed.diagnostics.len(),
        withdrawals.summary()
    );
    Ok(ExitCode::SUCCESS)
}
