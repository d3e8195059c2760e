//! `shieldwall admin …`: the node's administration.
//!
//! - `add-member`, `add-user`, `add-key` edit the configuration file, the bootstrap (before a
//!   node runs, or for what should live in the file): edited with comments kept, checked as a
//!   whole, replaced whole (mode 0600); a running `serve` picks it up on SIGHUP.
//! - `member|user|key|collection|trust-group|peer …` change the admin state in the node's store
//!   through `services::admin` (the same service as the HTTP admin API): every `serve` on that
//!   store applies the change within a second, no signal needed.
//!
//! Each change is recorded in the node's audit trail, never with a password, token or digest.

use std::{path::PathBuf, process::ExitCode};

use anyhow::{Context, bail};
use shieldwall::{
    audit::Entry,
    auth,
    config::{self, Config, Role},
};
use toml_edit::{ArrayOfTables, DocumentMut, Item, Table, value};

/// `shieldwall admin` subcommands.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum Command {
    /// Members in the admin state (applied live).
    #[command(subcommand)]
    Member(MemberCmd),
    /// Users in the admin state (applied live).
    #[command(subcommand)]
    User(UserCmd),
    /// API keys in the admin state (applied live).
    #[command(subcommand)]
    Key(KeyCmd),
    /// Collections in the admin state (applied live).
    #[command(subcommand)]
    Collection(CollectionCmd),
    /// Trust groups in the admin state (applied live).
    #[command(subcommand)]
    TrustGroup(TrustGroupCmd),
    /// Peers in the admin state (applied live, by the scheduled sync too).
    #[command(subcommand)]
    Peer(PeerCmd),
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
        Command::Member(c) => return live(actor, Live::Member(c)),
        Command::User(c) => return live(actor, Live::User(c)),
        Command::Key(c) => return live(actor, Live::Key(c)),
        Command::Collection(c) => return live(actor, Live::Collection(c)),
        Command::TrustGroup(c) => return live(actor, Live::TrustGroup(c)),
        Command::Peer(c) => return live(actor, Live::Peer(c)),
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

/// Where the live commands act, and how they print.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct Common {
    /// Configuration file (its database holds the admin state).
    #[arg(long, default_value = "shieldwall.toml")]
    config: PathBuf,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

/// `admin member …`.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum MemberCmd {
    /// Add a member.
    Add {
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
        #[command(flatten)]
        common: Common,
    },
    /// List the members (file and admin state), disabled ones marked.
    List {
        #[command(flatten)]
        common: Common,
    },
    /// Remove a member: its users and keys are refused on every node within a second, it leaves
    /// every grant, RED recipient list and trust group; the objects it produced stay (with
    /// their markings) and its id and identity are not given again.
    Remove {
        /// Member id.
        id: String,
        #[command(flatten)]
        common: Common,
    },
    /// Disable a member: its users and keys are refused on every node within a second.
    Disable {
        /// Member id.
        id: String,
        #[command(flatten)]
        common: Common,
    },
    /// Enable a disabled member.
    Enable {
        /// Member id.
        id: String,
        #[command(flatten)]
        common: Common,
    },
}

/// `admin user …`.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum UserCmd {
    /// Add a user; the password is prompted for without echo on a terminal, else read from
    /// standard input (first line). At least 8 characters, not a common password.
    Add {
        /// Login name.
        name: String,
        /// Member id.
        #[arg(long)]
        member: String,
        /// reader, contributor or admin.
        #[arg(long, value_parser = parse_role)]
        role: Role,
        #[command(flatten)]
        common: Common,
    },
    /// List the users (never their password hashes).
    List {
        #[command(flatten)]
        common: Common,
    },
    /// Disable a user: every node refuses its sign-in within a second.
    Disable {
        /// Login name.
        name: String,
        #[command(flatten)]
        common: Common,
    },
    /// Enable a disabled user.
    Enable {
        /// Login name.
        name: String,
        #[command(flatten)]
        common: Common,
    },
    /// Remove a user.
    Remove {
        /// Login name.
        name: String,
        #[command(flatten)]
        common: Common,
    },
    /// Give a user a new password (read like `user add`'s).
    ResetPassword {
        /// Login name.
        name: String,
        #[command(flatten)]
        common: Common,
    },
}

/// `admin key …`.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum KeyCmd {
    /// Issue an API key; the token is printed once and only its digest is kept.
    Issue {
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
        /// When it stops working (RFC 3339, e.g. 2027-01-31T00:00:00Z).
        #[arg(long, conflicts_with = "expires_in_days")]
        expires: Option<String>,
        /// Days until it stops working.
        #[arg(long)]
        expires_in_days: Option<u32>,
        #[command(flatten)]
        common: Common,
    },
    /// List the keys (never their digests), revoked and expired ones marked.
    List {
        #[command(flatten)]
        common: Common,
    },
    /// Revoke a key: every node refuses it within a second.
    Revoke {
        /// Key id.
        id: String,
        #[command(flatten)]
        common: Common,
    },
    /// A new token for a key (printed once); the old token is refused.
    Rotate {
        /// Key id.
        id: String,
        #[command(flatten)]
        common: Common,
    },
}

/// `admin collection …`.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum CollectionCmd {
    /// Add a collection (its id is generated and printed).
    Add {
        /// Title.
        #[arg(long)]
        title: String,
        /// API root (default: the default root).
        #[arg(long)]
        api_root: Option<String>,
        /// Alias.
        #[arg(long)]
        alias: Option<String>,
        /// Description.
        #[arg(long)]
        description: Option<String>,
        /// Trust group (AMBER may leave by sync to its members' nodes).
        #[arg(long)]
        trust_group: Option<String>,
        /// Readers: members, trust groups or `*` (repeatable).
        #[arg(long)]
        read: Vec<String>,
        /// Writers (repeatable).
        #[arg(long)]
        write: Vec<String>,
        /// Members or trust groups that see its TLP:RED objects (repeatable).
        #[arg(long = "red-recipient")]
        red_recipients: Vec<String>,
        #[command(flatten)]
        common: Common,
    },
    /// List the collections with their grants.
    List {
        #[command(flatten)]
        common: Common,
    },
    /// Remove a collection; refused while it holds objects or a peer syncs it.
    Remove {
        /// Collection id.
        id: String,
        #[command(flatten)]
        common: Common,
    },
    /// Replace a collection's readers, writers and RED recipients (what is not given is
    /// emptied).
    Grants {
        /// Collection id.
        id: String,
        /// Readers: members, trust groups or `*` (repeatable).
        #[arg(long)]
        read: Vec<String>,
        /// Writers (repeatable).
        #[arg(long)]
        write: Vec<String>,
        /// Members or trust groups that see its TLP:RED objects (repeatable).
        #[arg(long = "red-recipient")]
        red_recipients: Vec<String>,
        #[command(flatten)]
        common: Common,
    },
}

/// `admin trust-group …`.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum TrustGroupCmd {
    /// Add a trust group.
    Add {
        /// Short id.
        id: String,
        /// Member ids (repeatable).
        #[arg(long = "member", required = true)]
        members: Vec<String>,
        /// Description.
        #[arg(long)]
        description: Option<String>,
        #[command(flatten)]
        common: Common,
    },
    /// List the trust groups.
    List {
        #[command(flatten)]
        common: Common,
    },
    /// Remove a trust group: it leaves every grant and RED recipient list, and collections
    /// shared with it share their AMBER objects with no peer.
    Remove {
        /// Trust group id.
        id: String,
        #[command(flatten)]
        common: Common,
    },
}

/// `admin peer …`.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum PeerCmd {
    /// Add a peer from a JSON file (`-`: standard input) with the fields of a `[[peers]]` table;
    /// secrets only by environment variable name (`password_env`, `token_env`).
    Add {
        /// The peer as JSON.
        #[arg(long)]
        from: PathBuf,
        #[command(flatten)]
        common: Common,
    },
    /// List the peers (secrets shown as `(set)`).
    List {
        #[command(flatten)]
        common: Common,
    },
    /// Remove a peer.
    Remove {
        /// Peer name.
        name: String,
        #[command(flatten)]
        common: Common,
    },
}

enum Live {
    Member(MemberCmd),
    User(UserCmd),
    Key(KeyCmd),
    Collection(CollectionCmd),
    TrustGroup(TrustGroupCmd),
    Peer(PeerCmd),
}

fn common_of(cmd: &Live) -> &Common {
    match cmd {
        Live::Member(
            MemberCmd::Add { common, .. }
            | MemberCmd::List { common }
            | MemberCmd::Remove { common, .. }
            | MemberCmd::Disable { common, .. }
            | MemberCmd::Enable { common, .. },
        ) => common,
        Live::User(
            UserCmd::Add { common, .. }
            | UserCmd::List { common }
            | UserCmd::Disable { common, .. }
            | UserCmd::Enable { common, .. }
            | UserCmd::Remove { common, .. }
            | UserCmd::ResetPassword { common, .. },
        ) => common,
        Live::Key(
            KeyCmd::Issue { common, .. }
            | KeyCmd::List { common }
            | KeyCmd::Revoke { common, .. }
            | KeyCmd::Rotate { common, .. },
        ) => common,
        Live::Collection(
            CollectionCmd::Add { common, .. }
            | CollectionCmd::List { common }
            | CollectionCmd::Remove { common, .. }
            | CollectionCmd::Grants { common, .. },
        ) => common,
        Live::TrustGroup(
            TrustGroupCmd::Add { common, .. }
            | TrustGroupCmd::List { common }
            | TrustGroupCmd::Remove { common, .. },
        ) => common,
        Live::Peer(
            PeerCmd::Add { common, .. } | PeerCmd::List { common } | PeerCmd::Remove { common, .. },
        ) => common,
    }
}

fn live(actor: String, cmd: Live) -> anyhow::Result<ExitCode> {
    super::serve::runtime()?.block_on(live_async(actor, cmd))
}

fn print_json(v: &serde_json::Value) {
    println!("{}", serde_json::to_string_pretty(v).unwrap_or_default());
}

/// A change's result: `generation N` in text, `{"generation": N, …}` in JSON.
fn done(json: bool, text: &str, v: serde_json::Value) {
    if json {
        print_json(&v);
    } else {
        println!("{text}");
    }
}

async fn live_async(actor: String, cmd: Live) -> anyhow::Result<ExitCode> {
    use serde_json::json;
    use shieldwall::{
        admin::Change,
        services::admin::{Actor, Admin, NewCollection},
        store::AnyStore,
    };
    let common = common_of(&cmd).clone();
    let checked = config::load(&common.config, &config::process_env())?;
    let store = AnyStore::open(&checked.database).await.with_context(|| {
        format!(
            "cannot open the database {}",
            config::redact_url(&checked.database)
        )
    })?;
    let admin = Admin::new(store, std::sync::Arc::new(checked.config));
    let actor = Actor {
        name: actor,
        path: "admin",
    };
    let json = common.json;
    let applied = " (every node on this database applies it within a second)";
    match cmd {
        Live::Member(MemberCmd::Add {
            id,
            name,
            identity,
            country,
            sectors,
            ..
        }) => {
            if let Some(i) = &identity
                && !config::is_stix_id(i, "identity")
            {
                bail!("--identity {i}: not an identity--UUID id");
            }
            let m = admin
                .add_member(
                    &actor,
                    config::MemberConfig {
                        id,
                        name,
                        identity: identity.unwrap_or_default(),
                        country,
                        sectors,
                    },
                )
                .await?;
            done(
                json,
                &format!("Added member {} ({}){applied}.", m.id, m.identity),
                json!({ "member": m }),
            );
        }
        Live::Member(MemberCmd::List { .. }) => {
            let members = admin.members().await?;
            if json {
                print_json(&json!({ "members": members }));
            } else {
                for m in &members {
                    println!(
                        "{:<16} {:<40} {:<2} {:<8} {}",
                        m.member.id,
                        m.member.identity,
                        m.member.country.as_deref().unwrap_or("--"),
                        if m.disabled { "disabled" } else { "enabled" },
                        m.member.name
                    );
                }
            }
        }
        Live::Member(MemberCmd::Remove { id, .. }) => {
            let g = admin.remove_member(&actor, &id).await?;
            done(
                json,
                &format!("Removed member {id}, its users and keys{applied}."),
                json!({ "generation": g }),
            );
        }
        Live::Member(MemberCmd::Disable { id, .. }) => {
            let g = admin.set_member_disabled(&actor, &id, true).await?;
            done(
                json,
                &format!("Disabled member {id}{applied}."),
                json!({ "generation": g }),
            );
        }
        Live::Member(MemberCmd::Enable { id, .. }) => {
            let g = admin.set_member_disabled(&actor, &id, false).await?;
            done(
                json,
                &format!("Enabled member {id}{applied}."),
                json!({ "generation": g }),
            );
        }
        Live::Collection(CollectionCmd::Remove { id, .. }) => {
            let g = admin.remove_collection(&actor, &id).await?;
            done(
                json,
                &format!("Removed collection {id}{applied}."),
                json!({ "generation": g }),
            );
        }
        Live::Collection(CollectionCmd::Grants {
            id,
            read,
            write,
            red_recipients,
            ..
        }) => {
            let g = admin
                .set_collection_grants(
                    &actor,
                    shieldwall::admin::CollectionGrants {
                        id: id.clone(),
                        read,
                        write,
                        red_recipients,
                    },
                )
                .await?;
            done(
                json,
                &format!("New grants for collection {id}{applied}."),
                json!({ "generation": g }),
            );
        }
        Live::TrustGroup(TrustGroupCmd::Remove { id, .. }) => {
            let g = admin.remove_trust_group(&actor, &id).await?;
            done(
                json,
                &format!("Removed trust group {id}{applied}."),
                json!({ "generation": g }),
            );
        }
        Live::User(UserCmd::Add {
            name, member, role, ..
        }) => {
            let password = super::passwords::read_new(&name)?;
            admin
                .add_user(&actor, &name, &member, role, &password)
                .await?;
            done(
                json,
                &format!("Added user {name}{applied}."),
                json!({ "user": name }),
            );
        }
        Live::User(UserCmd::List { .. }) => {
            let users = admin.users().await?;
            if json {
                print_json(&json!({ "users": users }));
            } else {
                for u in users {
                    println!(
                        "{:<20} {:<16} {:<12} {:<9} {}",
                        u.name,
                        u.member,
                        u.role.as_str(),
                        if u.disabled { "disabled" } else { "enabled" },
                        u.source
                    );
                }
            }
        }
        Live::User(UserCmd::Disable { name, .. }) => {
            let g = admin
                .apply(
                    &actor,
                    Change::SetUserDisabled {
                        name: name.clone(),
                        disabled: true,
                    },
                )
                .await?;
            done(
                json,
                &format!("Disabled user {name}{applied}."),
                json!({ "generation": g }),
            );
        }
        Live::User(UserCmd::Enable { name, .. }) => {
            let g = admin
                .apply(
                    &actor,
                    Change::SetUserDisabled {
                        name: name.clone(),
                        disabled: false,
                    },
                )
                .await?;
            done(
                json,
                &format!("Enabled user {name}{applied}."),
                json!({ "generation": g }),
            );
        }
        Live::User(UserCmd::Remove { name, .. }) => {
            let g = admin
                .apply(&actor, Change::RemoveUser(name.clone()))
                .await?;
            done(
                json,
                &format!("Removed user {name}{applied}."),
                json!({ "generation": g }),
            );
        }
        Live::User(UserCmd::ResetPassword { name, .. }) => {
            let password = super::passwords::read_new(&name)?;
            admin.reset_password(&actor, &name, &password).await?;
            done(
                json,
                &format!("New password for {name}{applied}."),
                json!({ "user": name }),
            );
        }
        Live::Key(KeyCmd::Issue {
            id,
            member,
            role,
            note,
            expires,
            expires_in_days,
            ..
        }) => {
            let expires = match (expires, expires_in_days) {
                (Some(e), _) => Some(e),
                (None, Some(d)) => Some(shieldwall::timestamps::format_us(
                    shieldwall::timestamps::now_us() + i64::from(d) * 86_400_000_000,
                )),
                (None, None) => None,
            };
            let k = admin
                .issue_key(&actor, &id, &member, role, note, expires)
                .await?;
            print_token(json, &k, "Issued");
        }
        Live::Key(KeyCmd::List { .. }) => {
            let keys = admin.keys().await?;
            if json {
                print_json(&json!({ "keys": keys }));
            } else {
                for k in keys {
                    let state = if k.revoked {
                        "revoked"
                    } else if k.expired {
                        "expired"
                    } else {
                        "active"
                    };
                    println!(
                        "{:<20} {:<16} {:<12} {:<8} expires {:<28} {}",
                        k.id,
                        k.member,
                        k.role.as_str(),
                        state,
                        k.expires.as_deref().unwrap_or("never"),
                        k.source
                    );
                }
            }
        }
        Live::Key(KeyCmd::Revoke { id, .. }) => {
            let g = admin.apply(&actor, Change::RevokeKey(id.clone())).await?;
            done(
                json,
                &format!("Revoked key {id}{applied}."),
                json!({ "generation": g }),
            );
        }
        Live::Key(KeyCmd::Rotate { id, .. }) => {
            let k = admin.rotate_key(&actor, &id).await?;
            print_token(json, &k, "Rotated");
        }
        Live::Collection(CollectionCmd::Add {
            title,
            api_root,
            alias,
            description,
            trust_group,
            read,
            write,
            red_recipients,
            ..
        }) => {
            let api_root = match api_root {
                Some(r) => r,
                None => admin
                    .bootstrap()
                    .api_roots
                    .iter()
                    .find(|r| r.default)
                    .or_else(|| admin.bootstrap().api_roots.first())
                    .map(|r| r.name.clone())
                    .context("the configuration has no API root: give --api-root")?,
            };
            let c = admin
                .add_collection(
                    &actor,
                    NewCollection {
                        api_root,
                        title,
                        description,
                        alias,
                        trust_group,
                        read,
                        write,
                        red_recipients,
                    },
                )
                .await?;
            done(
                json,
                &format!("Added collection {} ({}){applied}.", c.id, c.title),
                json!({ "collection": c }),
            );
        }
        Live::Collection(CollectionCmd::List { .. }) => {
            let (_, c) = admin.current().await?;
            if json {
                print_json(&json!({ "collections": c.collections }));
            } else {
                for c in &c.collections {
                    println!(
                        "{} {:<12} {:<16} read={} write={} red={}  {}",
                        c.id,
                        c.api_root,
                        c.alias.as_deref().unwrap_or("--"),
                        c.read.join(","),
                        c.write.join(","),
                        c.red_recipients.join(","),
                        c.title
                    );
                }
            }
        }
        Live::TrustGroup(TrustGroupCmd::Add {
            id,
            members,
            description,
            ..
        }) => {
            let g = admin
                .apply(
                    &actor,
                    Change::AddTrustGroup(config::TrustGroupConfig {
                        id: id.clone(),
                        members,
                        description,
                    }),
                )
                .await?;
            done(
                json,
                &format!("Added trust group {id}{applied}."),
                json!({ "generation": g }),
            );
        }
        Live::TrustGroup(TrustGroupCmd::List { .. }) => {
            let (_, c) = admin.current().await?;
            if json {
                print_json(&json!({ "trust_groups": c.trust_groups }));
            } else {
                for g in &c.trust_groups {
                    println!("{:<16} {}", g.id, g.members.join(","));
                }
            }
        }
        Live::Peer(PeerCmd::Add { from, .. }) => {
            let text = if from.as_os_str() == "-" {
                let mut t = String::new();
                std::io::Read::read_to_string(&mut std::io::stdin(), &mut t)
                    .context("cannot read standard input")?;
                t
            } else {
                std::fs::read_to_string(&from)
                    .with_context(|| format!("cannot read {}", from.display()))?
            };
            let peer: config::PeerConfig = serde_json::from_str(&text).map_err(|e| {
                anyhow::anyhow!(
                    "{}: line {}, column {}: {e}",
                    from.display(),
                    e.line(),
                    e.column()
                )
            })?;
            let name = peer.name.clone();
            let g = admin.apply(&actor, Change::AddPeer(peer)).await?;
            done(
                json,
                &format!("Added peer {name}{applied}; a running scheduled sync starts syncing it."),
                json!({ "generation": g }),
            );
        }
        Live::Peer(PeerCmd::List { .. }) => {
            let (_, c) = admin.current().await?;
            if json {
                let peers: Vec<serde_json::Value> = c
                    .peers
                    .iter()
                    .map(shieldwall::taxii::admin_api::redacted_peer)
                    .collect();
                print_json(&json!({ "peers": peers }));
            } else {
                for p in &c.peers {
                    println!("{:<16} {:<10} {}", p.name, p.member, p.url);
                }
            }
        }
        Live::Peer(PeerCmd::Remove { name, .. }) => {
            let g = admin
                .apply(&actor, Change::RemovePeer(name.clone()))
                .await?;
            done(
                json,
                &format!("Removed peer {name}{applied}."),
                json!({ "generation": g }),
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// A token on standard output (once), what happened on standard error; or all of it as JSON.
fn print_token(json: bool, k: &shieldwall::services::admin::IssuedKey, what: &str) {
    if json {
        print_json(&serde_json::to_value(k).unwrap_or_default());
    } else {
        println!("{}", k.token);
        eprintln!(
            "{what} API key {} (expires {}). The token above is shown once; use it as `Authorization: Bearer …`.",
            k.id,
            k.expires.as_deref().unwrap_or("never")
        );
    }
}
