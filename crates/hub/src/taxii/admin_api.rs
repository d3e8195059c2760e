//! The HTTP admin API under `/admin/`: JSON over the administration service
//! (`services::admin`), for the admin role only, described by the OpenAPI 3.1 document it
//! serves at `/admin/openapi.json`.
//!
//! The router is built from [`OPS`], the same table the OpenAPI document is generated from, so a
//! route cannot exist without its description; [`OpId`] is matched exhaustively by the
//! dispatcher, so an operation cannot be described without a handler.
//!
//! Every request: a `Cookie` header is refused (the API takes Basic or bearer credentials only,
//! so a browser's ambient credentials can never act on it: no CSRF); then authentication (401),
//! then the admin role (403); a body is JSON (`Content-Type: application/json`, at most
//! [`MAX_BODY`] bytes, unknown or duplicate fields refused) or a 400/415. Every refusal is a
//! TAXII error resource.

use axum::{
    Router,
    body::Body,
    extract::{RawPathParams, State},
    http::{HeaderMap, Method, StatusCode, header},
    response::{IntoResponse, Response},
    routing::on,
};
use serde::{Deserialize, de::DeserializeOwned};
use serde_json::{Value, json};

use super::{AppState, error::TaxiiError};
use crate::{
    config::{MemberConfig, PeerConfig, Role, TrustGroupConfig},
    policy::Principal,
    services::admin::{Actor, AdminServiceError, NewCollection},
};
use ::policy::admin::{AdminError, Change};

/// Largest request body of the admin API.
pub const MAX_BODY: usize = 64 * 1024;

type Result<T> = std::result::Result<T, TaxiiError>;

/// Every operation of the admin API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum OpId {
    GetState,
    ListMembers,
    AddMember,
    ListUsers,
    AddUser,
    DisableUser,
    EnableUser,
    ResetPassword,
    RemoveUser,
    ListKeys,
    IssueKey,
    RevokeKey,
    RotateKey,
    ListCollections,
    AddCollection,
    ListTrustGroups,
    AddTrustGroup,
    ListPeers,
    AddPeer,
    RemovePeer,
    RemoveMember,
    DisableMember,
    EnableMember,
    RemoveTrustGroup,
    RemoveCollection,
    SetCollectionGrants,
    OpenApi,
}

/// One operation: method, path (axum and OpenAPI share `{param}`), id, summary, request and
/// response schemas (component names) and the success status.
#[derive(Debug)]
pub struct Op {
    /// Which.
    pub id: OpId,
    /// `GET`, `POST`, `PUT`, `DELETE`.
    pub method: &'static str,
    /// Path.
    pub path: &'static str,
    /// `operationId`.
    pub operation_id: &'static str,
    /// Summary.
    pub summary: &'static str,
    /// Request body schema, if any.
    pub request: Option<&'static str>,
    /// Response body schema.
    pub response: &'static str,
    /// Success status.
    pub status: u16,
}

macro_rules! op {
    ($id:ident, $m:literal, $p:literal, $oid:literal, $sum:literal, $req:expr, $resp:literal, $st:literal) => {
        Op {
            id: OpId::$id,
            method: $m,
            path: $p,
            operation_id: $oid,
            summary: $sum,
            request: $req,
            response: $resp,
            status: $st,
        }
    };
}

/// The admin API (besides `GET /admin/sync`, the sync status).
pub const OPS: &[Op] = &[
    op!(
        GetState,
        "GET",
        "/admin/state",
        "getState",
        "The admin state's generation.",
        None,
        "State",
        200
    ),
    op!(
        ListMembers,
        "GET",
        "/admin/members",
        "listMembers",
        "Members (file and admin).",
        None,
        "MemberList",
        200
    ),
    op!(
        AddMember,
        "POST",
        "/admin/members",
        "addMember",
        "Add a member (identity generated when absent).",
        Some("NewMember"),
        "MemberChange",
        201
    ),
    op!(
        ListUsers,
        "GET",
        "/admin/users",
        "listUsers",
        "Users, never their password hashes.",
        None,
        "UserList",
        200
    ),
    op!(
        AddUser,
        "POST",
        "/admin/users",
        "addUser",
        "Add a user (password: at least 8 characters, not a common one).",
        Some("NewUser"),
        "Change",
        201
    ),
    op!(
        DisableUser,
        "POST",
        "/admin/users/{name}/disable",
        "disableUser",
        "Disable a user: refused on every node within a second.",
        None,
        "Change",
        200
    ),
    op!(
        EnableUser,
        "POST",
        "/admin/users/{name}/enable",
        "enableUser",
        "Enable a disabled user.",
        None,
        "Change",
        200
    ),
    op!(
        ResetPassword,
        "POST",
        "/admin/users/{name}/password",
        "resetPassword",
        "Give a user a new password.",
        Some("NewPassword"),
        "Change",
        200
    ),
    op!(
        RemoveUser,
        "DELETE",
        "/admin/users/{name}",
        "removeUser",
        "Remove a user.",
        None,
        "Change",
        200
    ),
    op!(
        ListKeys,
        "GET",
        "/admin/keys",
        "listKeys",
        "API keys, never their digests.",
        None,
        "KeyList",
        200
    ),
    op!(
        IssueKey,
        "POST",
        "/admin/keys",
        "issueKey",
        "Issue an API key; the token is in this response only.",
        Some("NewKey"),
        "IssuedKey",
        201
    ),
    op!(
        RevokeKey,
        "POST",
        "/admin/keys/{id}/revoke",
        "revokeKey",
        "Revoke a key: refused on every node within a second.",
        None,
        "Change",
        200
    ),
    op!(
        RotateKey,
        "POST",
        "/admin/keys/{id}/rotate",
        "rotateKey",
        "A new token for a key; the old one is refused.",
        None,
        "IssuedKey",
        200
    ),
    op!(
        ListCollections,
        "GET",
        "/admin/collections",
        "listCollections",
        "Collections with their grants.",
        None,
        "CollectionList",
        200
    ),
    op!(
        AddCollection,
        "POST",
        "/admin/collections",
        "addCollection",
        "Add a collection (its id is generated).",
        Some("NewCollection"),
        "CollectionChange",
        201
    ),
    op!(
        ListTrustGroups,
        "GET",
        "/admin/trust-groups",
        "listTrustGroups",
        "Trust groups.",
        None,
        "TrustGroupList",
        200
    ),
    op!(
        AddTrustGroup,
        "POST",
        "/admin/trust-groups",
        "addTrustGroup",
        "Add a trust group.",
        Some("TrustGroup"),
        "Change",
        201
    ),
    op!(
        ListPeers,
        "GET",
        "/admin/peers",
        "listPeers",
        "Peers (secrets shown as `(set)`).",
        None,
        "PeerList",
        200
    ),
    op!(
        AddPeer,
        "POST",
        "/admin/peers",
        "addPeer",
        "Add a peer (secrets only by environment variable name).",
        Some("Peer"),
        "Change",
        201
    ),
    op!(
        RemovePeer,
        "DELETE",
        "/admin/peers/{name}",
        "removePeer",
        "Remove a peer.",
        None,
        "Change",
        200
    ),
    op!(
        RemoveMember,
        "DELETE",
        "/admin/members/{id}",
        "removeMember",
        "Remove a member: its users and keys are refused on every node within a second; it leaves every grant, RED recipient list and trust group; its objects stay, its id and identity are not given again.",
        None,
        "Change",
        200
    ),
    op!(
        DisableMember,
        "POST",
        "/admin/members/{id}/disable",
        "disableMember",
        "Disable a member: its users and keys are refused on every node within a second.",
        None,
        "Change",
        200
    ),
    op!(
        EnableMember,
        "POST",
        "/admin/members/{id}/enable",
        "enableMember",
        "Enable a disabled member.",
        None,
        "Change",
        200
    ),
    op!(
        RemoveTrustGroup,
        "DELETE",
        "/admin/trust-groups/{id}",
        "removeTrustGroup",
        "Remove a trust group: it leaves every grant and RED recipient list, and collections shared with it share their AMBER objects with no peer.",
        None,
        "Change",
        200
    ),
    op!(
        RemoveCollection,
        "DELETE",
        "/admin/collections/{id}",
        "removeCollection",
        "Remove an empty collection (409 while it holds objects or a peer syncs it).",
        None,
        "Change",
        200
    ),
    op!(
        SetCollectionGrants,
        "PUT",
        "/admin/collections/{id}/grants",
        "setCollectionGrants",
        "Replace a collection's readers, writers and RED recipients.",
        Some("Grants"),
        "Change",
        200
    ),
    op!(
        OpenApi,
        "GET",
        "/admin/openapi.json",
        "getOpenApi",
        "This document.",
        None,
        "OpenApi",
        200
    ),
];

/// The admin API's routes on `router`.
pub fn routes(mut router: Router<AppState>) -> Router<AppState> {
    for op in OPS {
        let method = match op.method {
            "GET" => axum::routing::MethodFilter::GET,
            "POST" => axum::routing::MethodFilter::POST,
            "PUT" => axum::routing::MethodFilter::PUT,
            _ => axum::routing::MethodFilter::DELETE,
        };
        router = router.route(
            op.path,
            on(
                method,
                move |State(state): State<AppState>,
                      headers: HeaderMap,
                      params: RawPathParams,
                      body: Body| async move {
                    let param = params.iter().next().map(|(_, v)| v.to_owned());
                    match dispatch(op, state, &headers, param, body).await {
                        Ok(r) => r,
                        Err(e) => e.into_response(),
                    }
                },
            ),
        );
    }
    router
}

fn refused(e: AdminServiceError) -> TaxiiError {
    match e {
        AdminServiceError::Refused(AdminError::NotFound(m)) => {
            TaxiiError::new(StatusCode::NOT_FOUND, "Not Found", m)
        }
        AdminServiceError::Refused(AdminError::Conflict(m)) => {
            TaxiiError::new(StatusCode::CONFLICT, "Conflict", m)
        }
        AdminServiceError::Refused(AdminError::Invalid(m)) => TaxiiError::bad_request(m),
        AdminServiceError::Busy => TaxiiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "Service Unavailable",
            "the admin state kept changing; try again",
        ),
        e => TaxiiError::internal(&e),
    }
}

/// The body, bounded and parsed strictly as `T`.
async fn json_body<T: DeserializeOwned>(headers: &HeaderMap, body: Body) -> Result<T> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let media = ct.split(';').next().unwrap_or("").trim();
    if !media.eq_ignore_ascii_case("application/json") {
        return Err(TaxiiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Unsupported Media Type",
            "the Content-Type must be application/json",
        ));
    }
    let bytes = axum::body::to_bytes(body, MAX_BODY).await.map_err(|_| {
        TaxiiError::bad_request(format!(
            "the body is larger than {MAX_BODY} bytes or could not be read"
        ))
    })?;
    serde_json::from_slice(&bytes).map_err(|e| {
        TaxiiError::bad_request(format!(
            "the body is not the JSON this operation takes: {}",
            ::policy::audit::bound(&e.to_string(), 300)
        ))
    })
}

fn reply(status: u16, v: Value) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    let mut r = (status, v.to_string()).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    r
}

/// Who may use the admin API: an authenticated admin, without cookies.
async fn admin_principal(state: &AppState, headers: &HeaderMap, op: &Op) -> Result<Principal> {
    if headers.contains_key(header::COOKIE) {
        return Err(TaxiiError::bad_request(
            "the admin API takes HTTP Basic or bearer credentials only; requests with cookies are refused",
        ));
    }
    let p = super::handlers::authenticate(state, headers).await?;
    if p.role != Role::Admin {
        record_refused(state, &p, "admin-api", op.operation_id).await;
        return Err(TaxiiError::forbidden(
            "the admin API is for the admin role only",
        ));
    }
    Ok(p)
}

/// Records in the audit trail (within its budget for refusals) that `p`, signed in without the
/// admin role, asked for the admin-only `what` through `path`.
pub(crate) async fn record_refused(state: &AppState, p: &Principal, path: &str, what: &str) {
    state
        .audit
        .record_refusal(
            crate::audit_chain::Entry::new(&p.actor, "admin-refused", path, what, "refused")
                .detail(&format!("role={} member={}", p.role.as_str(), p.member)),
        )
        .await;
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GrantsBody {
    #[serde(default)]
    read: Vec<String>,
    #[serde(default)]
    write: Vec<String>,
    #[serde(default)]
    red_recipients: Vec<String>,
}

/// Longest id, name or key id in a path.
pub const MAX_PATH_ID: usize = 256;

/// A path's id as given (percent-decoded), or a 400 when it could name something else: a path
/// separator, `.`/`..`, a control character, or longer than [`MAX_PATH_ID`] bytes.
fn path_id(param: Option<String>) -> Result<String> {
    let p = param.unwrap_or_default();
    if p.len() > MAX_PATH_ID
        || p == "."
        || p == ".."
        || p.chars().any(|c| c == '/' || c == '\\' || c.is_control())
    {
        return Err(TaxiiError::bad_request(format!(
            "the id in the path is not a plain name (no '/', '\\', '.', '..' or control \
             characters, at most {MAX_PATH_ID} bytes)"
        )));
    }
    Ok(p)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewMemberBody {
    id: String,
    name: String,
    #[serde(default)]
    identity: Option<String>,
    #[serde(default)]
    country: Option<String>,
    #[serde(default)]
    sectors: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewUserBody {
    name: String,
    member: String,
    role: Role,
    password: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PasswordBody {
    password: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewKeyBody {
    id: String,
    member: String,
    role: Role,
    #[serde(default)]
    note: Option<String>,
    #[serde(default)]
    expires: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewCollectionBody {
    #[serde(default)]
    api_root: Option<String>,
    title: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    alias: Option<String>,
    #[serde(default)]
    trust_group: Option<String>,
    #[serde(default)]
    read: Vec<String>,
    #[serde(default)]
    write: Vec<String>,
    #[serde(default)]
    red_recipients: Vec<String>,
}

/// A peer as listed: secrets replaced by `(set)`.
pub fn redacted_peer(p: &PeerConfig) -> Value {
    let mut v = serde_json::to_value(p).unwrap_or(Value::Null);
    for k in ["password", "token"] {
        if v.get(k).is_some_and(|x| !x.is_null()) {
            v[k] = json!("(set)");
        }
    }
    v
}

async fn dispatch(
    op: &'static Op,
    state: AppState,
    headers: &HeaderMap,
    param: Option<String>,
    body: Body,
) -> Result<Response> {
    let principal = admin_principal(&state, headers, op).await?;
    let admin = state.admin.clone().ok_or_else(|| {
        TaxiiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "Service Unavailable",
            "administration is not available on this node",
        )
    })?;
    let actor = Actor {
        name: principal.actor.clone(),
        path: "admin-api",
    };
    let param = path_id(param)?;
    let change = |g: i64| json!({ "generation": g });
    let v = match op.id {
        OpId::OpenApi => openapi(),
        OpId::GetState => {
            let (g, _) = admin.state().await.map_err(refused)?;
            json!({ "generation": g })
        }
        OpId::ListMembers => {
            let (g, c) = admin.current().await.map_err(refused)?;
            let disabled: Vec<String> = admin
                .members()
                .await
                .map_err(refused)?
                .into_iter()
                .filter(|m| m.disabled)
                .map(|m| m.member.id)
                .collect();
            json!({ "generation": g, "members": c.members, "disabled": disabled })
        }
        OpId::RemoveMember => {
            if param == principal.member {
                return Err(TaxiiError::new(
                    StatusCode::CONFLICT,
                    "Conflict",
                    "an administrator cannot remove its own member",
                ));
            }
            change(admin.remove_member(&actor, &param).await.map_err(refused)?)
        }
        OpId::DisableMember | OpId::EnableMember => {
            if param == principal.member && op.id == OpId::DisableMember {
                return Err(TaxiiError::new(
                    StatusCode::CONFLICT,
                    "Conflict",
                    "an administrator cannot disable its own member",
                ));
            }
            change(
                admin
                    .set_member_disabled(&actor, &param, op.id == OpId::DisableMember)
                    .await
                    .map_err(refused)?,
            )
        }
        OpId::RemoveTrustGroup => change(
            admin
                .remove_trust_group(&actor, &param)
                .await
                .map_err(refused)?,
        ),
        OpId::RemoveCollection => change(
            admin
                .remove_collection(&actor, &param)
                .await
                .map_err(refused)?,
        ),
        OpId::SetCollectionGrants => {
            let b: GrantsBody = json_body(headers, body).await?;
            change(
                admin
                    .set_collection_grants(
                        &actor,
                        ::policy::admin::CollectionGrants {
                            id: param,
                            read: b.read,
                            write: b.write,
                            red_recipients: b.red_recipients,
                        },
                    )
                    .await
                    .map_err(refused)?,
            )
        }
        OpId::AddMember => {
            let b: NewMemberBody = json_body(headers, body).await?;
            let m = admin
                .add_member(
                    &actor,
                    MemberConfig {
                        id: b.id,
                        name: b.name,
                        identity: b.identity.unwrap_or_default(),
                        country: b.country,
                        sectors: b.sectors,
                    },
                )
                .await
                .map_err(refused)?;
            let (g, _) = admin.state().await.map_err(refused)?;
            json!({ "generation": g, "member": m })
        }
        OpId::ListUsers => json!({ "users": admin.users().await.map_err(refused)? }),
        OpId::AddUser => {
            let b: NewUserBody = json_body(headers, body).await?;
            admin
                .add_user(&actor, &b.name, &b.member, b.role, &b.password)
                .await
                .map_err(refused)?;
            let (g, _) = admin.state().await.map_err(refused)?;
            change(g)
        }
        OpId::DisableUser | OpId::EnableUser => change(
            admin
                .apply(
                    &actor,
                    Change::SetUserDisabled {
                        name: param,
                        disabled: op.id == OpId::DisableUser,
                    },
                )
                .await
                .map_err(refused)?,
        ),
        OpId::ResetPassword => {
            let b: PasswordBody = json_body(headers, body).await?;
            admin
                .reset_password(&actor, &param, &b.password)
                .await
                .map_err(refused)?;
            let (g, _) = admin.state().await.map_err(refused)?;
            change(g)
        }
        OpId::RemoveUser => change(
            admin
                .apply(&actor, Change::RemoveUser(param))
                .await
                .map_err(refused)?,
        ),
        OpId::ListKeys => json!({ "keys": admin.keys().await.map_err(refused)? }),
        OpId::IssueKey => {
            let b: NewKeyBody = json_body(headers, body).await?;
            let k = admin
                .issue_key(&actor, &b.id, &b.member, b.role, b.note, b.expires)
                .await
                .map_err(refused)?;
            serde_json::to_value(k).map_err(|e| TaxiiError::internal(&e))?
        }
        OpId::RevokeKey => change(
            admin
                .apply(&actor, Change::RevokeKey(param))
                .await
                .map_err(refused)?,
        ),
        OpId::RotateKey => {
            let k = admin.rotate_key(&actor, &param).await.map_err(refused)?;
            serde_json::to_value(k).map_err(|e| TaxiiError::internal(&e))?
        }
        OpId::ListCollections => {
            let (g, c) = admin.current().await.map_err(refused)?;
            json!({ "generation": g, "collections": c.collections })
        }
        OpId::AddCollection => {
            let b: NewCollectionBody = json_body(headers, body).await?;
            let api_root = match b.api_root {
                Some(r) => r,
                None => admin
                    .bootstrap()
                    .api_roots
                    .iter()
                    .find(|r| r.default)
                    .or_else(|| admin.bootstrap().api_roots.first())
                    .map(|r| r.name.clone())
                    .unwrap_or_default(),
            };
            let c = admin
                .add_collection(
                    &actor,
                    NewCollection {
                        api_root,
                        title: b.title,
                        description: b.description,
                        alias: b.alias,
                        trust_group: b.trust_group,
                        read: b.read,
                        write: b.write,
                        red_recipients: b.red_recipients,
                    },
                )
                .await
                .map_err(refused)?;
            let (g, _) = admin.state().await.map_err(refused)?;
            json!({ "generation": g, "collection": c })
        }
        OpId::ListTrustGroups => {
            let (g, c) = admin.current().await.map_err(refused)?;
            json!({ "generation": g, "trust_groups": c.trust_groups })
        }
        OpId::AddTrustGroup => {
            let b: TrustGroupConfig = json_body(headers, body).await?;
            change(
                admin
                    .apply(&actor, Change::AddTrustGroup(b))
                    .await
                    .map_err(refused)?,
            )
        }
        OpId::ListPeers => {
            let (g, c) = admin.current().await.map_err(refused)?;
            let peers: Vec<Value> = c.peers.iter().map(redacted_peer).collect();
            json!({ "generation": g, "peers": peers })
        }
        OpId::AddPeer => {
            let b: PeerConfig = json_body(headers, body).await?;
            change(
                admin
                    .apply(&actor, Change::AddPeer(b))
                    .await
                    .map_err(refused)?,
            )
        }
        OpId::RemovePeer => change(
            admin
                .apply(&actor, Change::RemovePeer(param))
                .await
                .map_err(refused)?,
        ),
    };
    Ok(reply(op.status, v))
}

fn s(t: &str) -> Value {
    json!({ "type": t })
}
fn opt_s(t: &str) -> Value {
    json!({ "type": [t, "null"] })
}
fn arr(items: Value) -> Value {
    json!({ "type": "array", "items": items })
}
fn obj(required: &[&str], props: Value) -> Value {
    json!({ "type": "object", "required": required, "properties": props, "additionalProperties": false })
}
fn open_obj(required: &[&str], props: Value) -> Value {
    json!({ "type": "object", "required": required, "properties": props })
}
fn r(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

fn schemas() -> Value {
    let role = json!({ "type": "string", "enum": ["reader", "contributor", "admin"] });
    let member = obj(
        &["id", "name", "identity"],
        json!({ "id": s("string"), "name": s("string"), "identity": s("string"),
                "country": opt_s("string"), "sectors": arr(s("string")) }),
    );
    let collection = obj(
        &["id", "api_root", "title"],
        json!({ "id": s("string"), "api_root": s("string"), "title": s("string"),
                "description": opt_s("string"), "alias": opt_s("string"), "trust_group": opt_s("string"),
                "read": arr(s("string")), "write": arr(s("string")), "red_recipients": arr(s("string")) }),
    );
    let trust_group = obj(
        &["id", "members"],
        json!({ "id": s("string"), "members": arr(s("string")), "description": opt_s("string") }),
    );
    let mut all = json!({
        "Error": obj(&["title", "http_status"], json!({
            "title": s("string"), "description": s("string"), "http_status": s("string") })),
        "State": obj(&["generation"], json!({ "generation": s("integer") })),
        "Change": obj(&["generation"], json!({ "generation": s("integer") })),
        "Member": member,
        "NewMember": obj(&["id", "name"], json!({ "id": s("string"), "name": s("string"),
            "identity": opt_s("string"), "country": opt_s("string"), "sectors": arr(s("string")) })),
        "MemberList": obj(&["generation", "members"], json!({ "generation": s("integer"), "members": arr(r("Member")) })),
        "MemberChange": obj(&["generation", "member"], json!({ "generation": s("integer"), "member": r("Member") })),
        "User": obj(&["name", "member", "role", "disabled", "source"], json!({
            "name": s("string"), "member": s("string"), "role": role, "disabled": s("boolean"),
            "source": { "type": "string", "enum": ["file", "admin"] } })),
        "UserList": obj(&["users"], json!({ "users": arr(r("User")) })),
        "NewUser": obj(&["name", "member", "role", "password"], json!({
            "name": s("string"), "member": s("string"), "role": role,
            "password": { "type": "string", "minLength": 8, "maxLength": 1024 } })),
        "NewPassword": obj(&["password"], json!({ "password": { "type": "string", "minLength": 8, "maxLength": 1024 } })),
        "Key": obj(&["id", "member", "role", "revoked", "expired", "source"], json!({
            "id": s("string"), "member": s("string"), "role": role, "note": opt_s("string"),
            "expires": opt_s("string"), "revoked": s("boolean"), "expired": s("boolean"),
            "source": { "type": "string", "enum": ["file", "admin"] } })),
        "KeyList": obj(&["keys"], json!({ "keys": arr(r("Key")) })),
        "NewKey": obj(&["id", "member", "role"], json!({
            "id": s("string"), "member": s("string"), "role": role, "note": opt_s("string"),
            "expires": { "type": ["string", "null"], "description": "RFC 3339, e.g. 2027-01-31T00:00:00Z" } })),
        "IssuedKey": obj(&["id", "token"], json!({ "id": s("string"),
            "token": { "type": "string", "description": "Shown once: use as `Authorization: Bearer …`." },
            "expires": opt_s("string") })),
        "Collection": collection,
        "NewCollection": obj(&["title"], json!({ "api_root": opt_s("string"), "title": s("string"),
            "description": opt_s("string"), "alias": opt_s("string"), "trust_group": opt_s("string"),
            "read": arr(s("string")), "write": arr(s("string")), "red_recipients": arr(s("string")) })),
        "CollectionList": obj(&["generation", "collections"], json!({ "generation": s("integer"), "collections": arr(r("Collection")) })),
        "CollectionChange": obj(&["generation", "collection"], json!({ "generation": s("integer"), "collection": r("Collection") })),
        "TrustGroup": trust_group,
        "TrustGroupList": obj(&["generation", "trust_groups"], json!({ "generation": s("integer"), "trust_groups": arr(r("TrustGroup")) })),
        "Peer": open_obj(&["name", "url", "api_root", "member"], json!({
            "name": s("string"), "url": s("string"), "api_root": s("string"), "member": s("string"),
            "username": opt_s("string"), "password_env": opt_s("string"), "token_env": opt_s("string"),
            "ca_cert": opt_s("string"), "inbound_actor": opt_s("string"),
            "collections": arr(open_obj(&["local", "remote", "direction"], json!({
                "local": s("string"), "remote": s("string"),
                "direction": { "type": "string", "enum": ["pull", "push", "both"] },
                "interval_seconds": s("integer") }))) })),
        "PeerList": obj(&["generation", "peers"], json!({ "generation": s("integer"), "peers": arr(r("Peer")) })),
        "OpenApi": open_obj(&["openapi", "paths"], json!({ "openapi": s("string"), "paths": s("object") })),
    });
    // Beside the literal above (its macro expansion is at the compiler's recursion limit).
    all["MemberList"]["properties"]["disabled"] = json!({ "type": "array", "items": s("string"),
        "description": "Ids of the disabled members (their users and keys are refused)." });
    all["Grants"] = obj(
        &[],
        json!({ "read": arr(s("string")), "write": arr(s("string")), "red_recipients": arr(s("string")) }),
    );
    all
}

/// The OpenAPI 3.1 document of the admin API, generated from [`OPS`].
pub fn openapi() -> Value {
    let mut paths = serde_json::Map::new();
    let error = |what: &str| json!({ "description": what, "content": { "application/taxii+json;version=2.1": { "schema": r("Error") } } });
    for op in OPS {
        let mut o = json!({
            "operationId": op.operation_id,
            "summary": op.summary,
            "security": [{ "basic": [] }, { "bearer": [] }],
            "responses": {
                op.status.to_string(): { "description": "Done.",
                    "content": { "application/json": { "schema": r(op.response) } } },
                "400": error("Malformed request, cookie sent, or the change would not hold."),
                "401": error("No valid credentials."),
                "403": error("Not the admin role."),
                "404": error("No such member, user, key, collection, trust group or peer."),
                "409": error("Already exists, still in use, or would lock the node out."),
                "415": error("The body is not application/json."),
                "429": error("Too many failed sign-ins."),
            },
        });
        let params: Vec<Value> = op
            .path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{').and_then(|p| p.strip_suffix('}')))
            .map(|name| json!({ "name": name, "in": "path", "required": true, "schema": s("string") }))
            .collect();
        if !params.is_empty() {
            o["parameters"] = Value::Array(params);
        }
        if let Some(req) = op.request {
            o["requestBody"] = json!({ "required": true,
                "content": { "application/json": { "schema": r(req) } } });
        }
        let entry = paths.entry(op.path.to_owned()).or_insert_with(|| json!({}));
        entry[op.method.to_ascii_lowercase()] = o;
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Shieldwall admin API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Administration of a Shieldwall node: members, users, API keys, collections, trust groups and peers. Admin role only; HTTP Basic or bearer API keys, never cookies. Changes are applied by every node on the same database within a second.",
        },
        "servers": [{ "url": "/" }],
        "paths": paths,
        "components": {
            "schemas": schemas(),
            "securitySchemes": {
                "basic": { "type": "http", "scheme": "basic" },
                "bearer": { "type": "http", "scheme": "bearer" },
            },
        },
    })
}

/// The method of an operation (for tests and clients).
pub fn method_of(op: &Op) -> Method {
    Method::from_bytes(op.method.as_bytes()).unwrap_or(Method::GET)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn every_operation_is_routed_once_and_described() {
        let all = [
            OpId::GetState,
            OpId::ListMembers,
            OpId::AddMember,
            OpId::ListUsers,
            OpId::AddUser,
            OpId::DisableUser,
            OpId::EnableUser,
            OpId::ResetPassword,
            OpId::RemoveUser,
            OpId::ListKeys,
            OpId::IssueKey,
            OpId::RevokeKey,
            OpId::RotateKey,
            OpId::ListCollections,
            OpId::AddCollection,
            OpId::ListTrustGroups,
            OpId::AddTrustGroup,
            OpId::ListPeers,
            OpId::AddPeer,
            OpId::RemovePeer,
            OpId::RemoveMember,
            OpId::DisableMember,
            OpId::EnableMember,
            OpId::RemoveTrustGroup,
            OpId::RemoveCollection,
            OpId::SetCollectionGrants,
            OpId::OpenApi,
        ];
        for id in all {
            assert_eq!(OPS.iter().filter(|o| o.id == id).count(), 1, "{id:?}");
        }
        let doc = openapi();
        let schemas = &doc["components"]["schemas"];
        let mut ids = std::collections::HashSet::new();
        for op in OPS {
            assert!(ids.insert(op.operation_id), "{}", op.operation_id);
            let o = &doc["paths"][op.path][op.method.to_ascii_lowercase()];
            assert_eq!(o["operationId"], op.operation_id);
            for name in op.request.iter().chain([&op.response]) {
                assert!(schemas.get(*name).is_some(), "schema {name}");
            }
            assert!(op.path.starts_with("/admin/"));
            assert_eq!(method_of(op).as_str(), op.method);
        }
    }
}
