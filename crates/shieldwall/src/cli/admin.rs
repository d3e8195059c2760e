//! `shieldwall admin …`: add members, users and API keys to the configuration file. The file is
//! edited (comments kept), checked as a whole, then replaced whole (mode 0600 at most 0640). A
//! running `serve` picks the change up on SIGHUP. Each change is recorded in the node's audit
//! trail (once its store exists), without the password, token or digest.

use std::{path::PathBuf, process::ExitCode};

use anyhow::{Context, bail};
use shieldwall::{
    audit::Entry,
    auth,
    config::{self, Config, Role},
};
use toml_edit::{ArrayOfTables, DocumentMut, Item, Table, value};

/// `shieldwall admin` subcommands (named as the operator types them: add-member, add-user, add-key).
#[allow(clippy::enum_variant_names)]
#[derive(Debug, clap::Subcommand)]
pub(crate) enum Command {
    /// Add a member organisation.
    AddMember {
        /// Short id.
        id: String,
        /// Display name.
        #[arg(long)]
        name: String,
        /// STIX identity id (default: a new identity--UUID).
        #[arg(long)]
        identity: Option<String>,
        /// ISO country code.
        #[arg(long)]
        country: Option<String>,
        /// Sectors (repeatable).
        #[arg(long = "sector")]
        sectors: Vec<String>,
        /// Configuration file.
        #[arg(long, default_value = "shieldwall.toml")]
        config: PathBuf,
    },
    /// Add a user; the password is prompted for without echo on a terminal, else read from
    /// standard input (first line). At least 8 characters, not a common password.
    AddUser {
        /// Login name.
        name: String,
        /// Member id.
        #[arg(long)]
        member: String,
        /// reader, contributor or admin.
        #[arg(long, value_parser = parse_role)]
        role: Role,
        /// Configuration file.
        #[arg(long, default_value = "shieldwall.toml")]
        config: PathBuf,
    },
    /// Create an API key; the token is printed once and only its digest is kept.
    AddKey {
        /// Key id.
        id: String,
        /// Member id.
        #[arg(long)]
        member: String,
        /// reader, contributor or admin.
        #[arg(long, value_parser = parse_role)]
        role: Role,
        /// What the key is for.
        #[arg(long)]
        note: Option<String>,
        /// Configuration file.
        #[arg(long, default_value = "shieldwall.toml")]
        config: PathBuf,
    },
}

fn parse_role(s: &str) -> Result<Role, String> {
    match s {
        "reader" => Ok(Role::Reader),
        "contributor" => Ok(Role::Contributor),
        "admin" => Ok(Role::Admin),
        _ => Err(format!("`{s}` is not reader, contributor or admin")),
    }
}

fn append(path: &PathBuf, array: &str, table: Table) -> anyhow::Result<()> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut doc: DocumentMut = text
        .parse()
        .with_context(|| format!("{} is not TOML", path.display()))?;
    match doc.get_mut(array) {
        None => {
            let mut a = ArrayOfTables::new();
            a.push(table);
            doc.insert(array, Item::ArrayOfTables(a));
        }
        Some(Item::ArrayOfTables(a)) => a.push(table),
        Some(_) => bail!("{}: `{array}` is not an array of tables", path.display()),
    }
    let new_text = doc.to_string();
    Config::from_toml(&new_text, &path.display().to_string(), &[])?;
    // Whole or not at all, and never readable by others (it holds password and key digests).
    shieldwall::files::write_private(path, new_text.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

/// Records an admin action in the node's audit trail (when its store exists); a failure to
/// record is reported, the change itself stands.
fn audit(config: &std::path::Path, entry: Entry) {
    let done =
        super::serve::runtime().and_then(|rt| rt.block_on(super::audit::record(config, entry)));
    if let Err(e) = done {
        eprintln!(
            "warning: the change was made but could not be recorded in the audit trail: {e:#}"
        );
    }
}

pub(crate) fn run(cmd: Command) -> anyhow::Result<ExitCode> {
    let actor = super::audit::cli_actor();
    match cmd {
        Command::AddMember {
            id,
            name,
            identity,
            country,
            sectors,
            config,
        } => {
            let identity =
                identity.unwrap_or_else(|| format!("identity--{}", uuid::Uuid::new_v4()));
            if !config::is_stix_id(&identity, "identity") {
                bail!("--identity {identity}: not an identity--UUID id");
            }
            let mut t = Table::new();
            t.insert("id", value(id.as_str()));
            t.insert("name", value(name));
            t.insert("identity", value(identity.as_str()));
            if let Some(c) = country {
                t.insert("country", value(c));
            }
            let mut a = toml_edit::Array::new();
            for s in sectors {
                a.push(s);
            }
            t.insert("sectors", value(a));
            append(&config, "members", t)?;
            println!("Added member {id} ({identity}).");
            audit(
                &config,
                Entry::new(
                    &actor,
                    "admin-add-member",
                    "admin",
                    &format!("member:{id}"),
                    "ok",
                )
                .detail(&format!("identity={identity}")),
            );
        }
        Command::AddUser {
            name,
            member,
            role,
            config,
        } => {
            let password = super::passwords::read_new(&name)?;
            let hash = auth::hash_password(&password)
                .map_err(|e| anyhow::anyhow!("cannot hash the password: {e}"))?;
            let mut t = Table::new();
            t.insert("name", value(name.as_str()));
            t.insert("member", value(member.as_str()));
            t.insert("role", value(role.as_str()));
            t.insert("password_hash", value(hash));
            append(&config, "users", t)?;
            println!("Added user {name}.");
            // Never the password or its hash.
            audit(
                &config,
                Entry::new(
                    &actor,
                    "admin-add-user",
                    "admin",
                    &format!("user:{name}"),
                    "ok",
                )
                .detail(&format!("member={member} role={}", role.as_str())),
            );
        }
        Command::AddKey {
            id,
            member,
            role,
            note,
            config,
        } => {
            let (token, digest) = auth::new_api_key(&id);
            let mut t = Table::new();
            t.insert("id", value(id.as_str()));
            t.insert("member", value(member.as_str()));
            t.insert("role", value(role.as_str()));
            t.insert("digest", value(digest));
            if let Some(n) = note {
                t.insert("note", value(n));
            }
            append(&config, "api_keys", t)?;
            println!("{token}");
            eprintln!(
                "Added API key {id}. The token above is shown once; use it as `Authorization: Bearer …`."
            );
            // Never the token or its digest.
            audit(
                &config,
                Entry::new(&actor, "admin-add-key", "admin", &format!("key:{id}"), "ok")
                    .detail(&format!("member={member} role={}", role.as_str())),
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
