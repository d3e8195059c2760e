//! `shieldwall export --collection C --as MEMBER [--format stix]`: write what MEMBER may see in a
//! collection (the policy applies, as over TAXII) as one STIX bundle, streamed page by page.

use std::{
    io::{BufWriter, Write},
    path::PathBuf,
    process::ExitCode,
};

use anyhow::{Context, bail};
use shieldwall::{
    config::Role,
    policy::Pushdown,
    store::{ListQuery, Store, VersionSelection, for_each_page},
};

/// Arguments of `shieldwall export`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Collection id or alias.
    #[arg(long)]
    collection: String,
    /// The member whose view is exported.
    #[arg(long = "as", value_name = "MEMBER")]
    as_member: String,
    /// Output format (only `stix`, a STIX 2.1 bundle, for now).
    #[arg(long, default_value = "stix")]
    format: String,
    /// Every version, not only the latest of each object.
    #[arg(long)]
    all_versions: bool,
    /// Output file (default: standard output).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Configuration file.
    #[arg(long, default_value = "shieldwall.toml")]
    config: PathBuf,
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    super::serve::runtime()?.block_on(run_async(args))
}

async fn run_async(args: Args) -> anyhow::Result<ExitCode> {
    if args.format != "stix" {
        bail!("--format {}: only `stix` is supported", args.format);
    }
    let node = super::node::Node::open_existing(&args.config).await?;
    let coll = node.collection(&args.collection)?.clone();
    let principal = node.principal(Some(&args.as_member), Role::Reader, "cli:export")?;
    if !shieldwall::policy::can_read(&principal, &coll) {
        bail!(
            "member `{}` may not read collection {}",
            principal.member,
            coll.id
        );
    }
    let out: Box<dyn Write> = match &args.out {
        Some(p) => Box::new(
            std::fs::File::create(p).with_context(|| format!("cannot create {}", p.display()))?,
        ),
        None => Box::new(std::io::stdout().lock()),
    };
    let mut w = BufWriter::new(out);
    let versions = if args.all_versions {
        VersionSelection::all()
    } else {
        VersionSelection::last()
    };
    let q = ListQuery::whole_collection(
        &coll.id,
        Pushdown::for_principal(&principal, &node.coalition),
        versions,
    );
    write!(
        w,
        "{{\"type\":\"bundle\",\"id\":\"bundle--{}\",\"objects\":[",
        uuid::Uuid::new_v4()
    )?;
    let mut n = 0u64;
    let (mut red, mut strict) = (Vec::new(), Vec::new());
    let default_tlp = node.coalition.default_tlp;
    for_each_page(&node.store, q, |records| -> anyhow::Result<()> {
        for r in records {
            match r
                .tlp
                .and_then(shieldwall::policy::tlp_from_code)
                .unwrap_or(default_tlp)
            {
                stix::tlp::TlpLevel::Red => red.push(r.id.clone()),
                stix::tlp::TlpLevel::AmberStrict => strict.push(r.id.clone()),
                _ => {}
            }
            if n > 0 {
                w.write_all(b",")?;
            }
            w.write_all(r.json.as_deref().unwrap_or("null").as_bytes())?;
            n += 1;
        }
        Ok(())
    })
    .await?;
    w.write_all(b"]}\n")?;
    w.flush()?;
    // One record per export, listing its RED and AMBER+STRICT objects.
    let (red, strict): (Vec<&str>, Vec<&str>) = (
        red.iter().map(String::as_str).collect(),
        strict.iter().map(String::as_str).collect(),
    );
    node.store
        .audit_append(&[shieldwall::audit::Entry::new(
            &super::audit::cli_actor(),
            "export",
            "cli",
            &format!("collection:{}", coll.id),
            "ok",
        )
        .detail(&shieldwall::audit::ids_detail(
            &format!("as={} format=stix objects={n}", principal.member),
            &red,
            &strict,
        ))])
        .await
        .context("the export was written but could not be recorded in the audit trail")?;
    eprintln!(
        "Exported {n} objects of {} as seen by {}.",
        coll.id, principal.member
    );
    Ok(ExitCode::SUCCESS)
}
