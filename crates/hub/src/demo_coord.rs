//! The demo coalition's coordination data, written through the same services as the
//! coordination commands ([`crate::services`]): an excerpt of the DISARM framework, incidents
//! on critical infrastructure under several TLP levels (events, impacts, tasks, victims), two
//! FIMI incidents with narratives, channels and media content, and requests for assistance with
//! an offer. Every name is fictitious. Run once after [`crate::demo::seed`], on an empty store.

use serde_json::{Value, json};
use stix::tlp::TlpLevel;

use crate::{
    coalition::{Coalition, Collection},
    config::Role,
    policy::Principal,
    publish::PublishLimits,
    services::{
        ServiceError,
        assist::{self, NewOffer, NewRequest, need},
        disarm,
        fimi::{self, Links},
        incident::{self, NewIncident},
        member::{MemberService, s},
    },
    store::AnyStore,
};

const NS: uuid::Uuid = uuid::Uuid::from_u128(0x5f1e_1d00_0000_4000_8000_5348_4945_4c44);

/// A tactic of the excerpt: (tactic id, tactic name, short name, [(technique id, name)]).
type TacticRow = (
    &'static str,
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str)],
);

/// The DISARM excerpt.
const DISARM: &[TacticRow] = &[
    (
        "TA06",
        "Develop Content",
        "develop-content",
        &[
            ("T0023", "Distort Facts"),
            ("T0085", "Develop Text-Based Content"),
            ("T0086", "Develop Image-Based Content"),
            ("T0086.002", "Develop AI-Generated Images (Deepfakes)"),
            ("T0087", "Develop Video-Based Content"),
        ],
    ),
    (
        "TA07",
        "Select Channels and Affordances",
        "select-channels-and-affordances",
        &[
            ("T0104", "Social Networks"),
            ("T0103", "Livestream"),
            ("T0105", "Media Sharing Networks"),
        ],
    ),
    (
        "TA09",
        "Deliver Content",
        "deliver-content",
        &[
            ("T0114", "Deliver Ads"),
            ("T0115", "Post Content"),
            ("T0116", "Comment or Reply on Content"),
        ],
    ),
    (
        "TA17",
        "Maximise Exposure",
        "maximise-exposure",
        &[
            ("T0118", "Amplify Existing Narrative"),
            ("T0119", "Cross-Posting"),
            ("T0121", "Manipulate Platform Algorithm"),
        ],
    ),
];

fn uid(prefix: &str, name: &str) -> String {
    format!("{prefix}--{}", uuid::Uuid::new_v5(&NS, name.as_bytes()))
}

/// The DISARM excerpt as the framework publishes it (a STIX bundle).
pub fn disarm_bundle() -> Value {
    let created = "2024-11-22T16:43:58.073Z";
    let owner = uid("identity", "disarm-foundation");
    let mut objects = vec![
        json!({"type": "identity", "spec_version": "2.1", "id": owner,
        "created": created, "modified": created, "name": "DISARM Foundation", "identity_class": "organization"}),
    ];
    for (ta, tname, short, techniques) in DISARM {
        objects.push(json!({"type": "x-mitre-tactic", "spec_version": "2.1", "id": uid("x-mitre-tactic", ta),
            "created_by_ref": owner, "created": created, "modified": created, "name": tname,
            "x_mitre_shortname": short, "external_references": [{"source_name": "DISARM", "external_id": ta}]}));
        for (t, name) in *techniques {
            objects.push(json!({"type": "attack-pattern", "spec_version": "2.1", "id": uid("attack-pattern", t),
                "created_by_ref": owner, "created": created, "modified": created, "name": name,
                "kill_chain_phases": [{"kill_chain_name": "mitre-attack", "phase_name": short}],
                "external_references": [{"source_name": "mitre-attack", "external_id": t,
                    "url": format!("https://github.com/DISARMFoundation/DISARMframeworks/blob/main/generated_pages/techniques/{t}.md")}],
                "x_mitre_is_subtechnique": t.contains('.')}));
        }
    }
    json!({"type": "bundle", "id": uid("bundle", "disarm-excerpt"), "objects": objects})
}

fn service(
    store: &AnyStore,
    coalition: &std::sync::Arc<Coalition>,
    member: &str,
) -> Result<MemberService, ServiceError> {
    MemberService::new(
        store.clone(),
        coalition.clone(),
        Principal {
            member: member.into(),
            role: if member == "hub" {
                Role::Admin
            } else {
                Role::Contributor
            },
            actor: "demo-seed".into(),
        },
        PublishLimits::transient(),
    )
}

fn coll<'a>(coalition: &'a Coalition, alias: &str) -> Result<&'a Collection, ServiceError> {
    coalition
        .collections
        .iter()
        .find(|c| c.alias.as_deref() == Some(alias))
        .ok_or_else(|| ServiceError::Usage(format!("no collection `{alias}`")))
}

/// The demo malware one member published into one collection at one level.
pub fn demo_malware(member: &str, collection: &Collection, level: TlpLevel) -> String {
    uid(
        "malware",
        &format!("{member}/{}/{}/malware", collection.id, level.value()),
    )
}

fn ts(v: &str) -> Option<stix::Timestamp> {
    stix::Timestamp::parse(v).ok()
}

/// Writes the coordination data; returns the ids of the incidents, FIMI incidents and
/// requests written, in that order.
pub async fn seed(
    store: &AnyStore,
    coalition: &std::sync::Arc<Coalition>,
) -> Result<Vec<String>, ServiceError> {
    use coord::incident::{
        Determination, Event, EventStatus, Impact, ImpactDetail, IncidentCore, Task, TaskOutcome,
    };
    use coord::sector::{CiEntity, EntityClass, Victim};
    let mut ids = Vec::new();
    let shared = coll(coalition, "coalition-indicators")?;
    let baltic = coll(coalition, "baltic-sharing")?;
    let energy = coll(coalition, "energy-sector")?;
    let hub = service(store, coalition, "hub")?;
    let prepared = coord::disarm::prepare_import(&disarm_bundle(), TlpLevel::Clear.marking_id())?;
    disarm::import(&hub, shared, prepared).await?;
    let amber = TlpLevel::Amber.marking_id();
    let green = TlpLevel::Green.marking_id();
    let red = TlpLevel::Red.marking_id();
    let strict = TlpLevel::AmberStrict.marking_id();
    let clear = TlpLevel::Clear.marking_id();

    // cert-ee: an intrusion at an electricity distributor (AMBER, baltic-sharing).
    let ee = service(store, coalition, "cert-ee")?;
    let victim =
        |name: &str, sector: &str, nis2: &str, sub: &str, class: EntityClass, cc: &str| Victim {
            name: name.into(),
            description: None,
            sectors: vec![sector.into()],
            ci: CiEntity {
                nis2_sector: Some(nis2.into()),
                nis2_subsector: (!sub.is_empty()).then(|| sub.into()),
                nis2_entity_class: Some(class),
                country: Some(cc.into()),
                ..CiEntity::default()
            },
        };
    let core = |d: Determination, st: &str, c: u8| {
        let mut k = IncidentCore::new();
        k.determination = d;
        k.investigation_status = st.into();
        k.criticality = Some(c);
        k
    };
    let w = incident::new_incident(
        &ee,
        baltic,
        amber,
        NewIncident {
            name: "Distributor SCADA intrusion".into(),
            description: Some("Breaker commands sent from a compromised HMI at a regional electricity distributor; 40 000 customers without power for three hours.".into()),
            victim: Some(victim("Põhjavõrk Distribution", "energy", "energy", "energy/electricity", EntityClass::Essential, "EE")),
            victim_ids: vec![],
            core: core(Determination::Confirmed, "open", 85),
        },
    )
    .await?;
    let ee_inc = w.id().to_owned();
    let mut ev = Event::new(EventStatus::Occurred);
    ev.name = Some("Phishing mail to the control room".into());
    ev.event_types = vec!["phishing".into()];
    ev.start_time = ts("2026-11-20T08:00:00Z");
    let first = incident::add_event(&ee, &ee_inc, amber, ev, None).await?;
    let mut ev = Event::new(EventStatus::Occurred);
    ev.name = Some("Breaker commands from the HMI".into());
    ev.start_time = ts("2026-11-21T06:40:00Z");
    incident::add_event(&ee, &ee_inc, amber, ev, Some(first.id())).await?;
    let mut imp = Impact::new(ImpactDetail::Availability {
        availability_impact: 75,
    });
    imp.criticality = Some(80);
    imp.start_time = ts("2026-11-21T06:40:00Z");
    incident::add_impact(&ee, &ee_inc, amber, imp).await?;
    let mut imp = Impact::new(ImpactDetail::External {
        impact_type: "public-confidence".into(),
    });
    imp.start_time = ts("2026-11-21T09:00:00Z");
    incident::add_impact(&ee, &ee_inc, strict, imp).await?;
    let mut t = Task::new(TaskOutcome::Ongoing);
    t.name = Some("Isolate the HMI network".into());
    t.task_types = vec!["containment".into()];
    t.priority = Some(90);
    t.start_time = ts("2026-11-21T07:30:00Z");
    incident::add_task(&ee, &ee_inc, amber, t, None).await?;
    fimi::link(
        &ee,
        baltic,
        amber,
        &ee_inc,
        &Links {
            uses: vec![demo_malware("cert-ee", baltic, TlpLevel::Green)],
            ..Links::default()
        },
    )
    .await?;
    ids.push(ee_inc.clone());

    // cert-pl: ransomware at a gas compressor station (GREEN, energy-sector).
    let pl = service(store, coalition, "cert-pl")?;
    let w = incident::new_incident(
        &pl,
        energy,
        green,
        NewIncident {
            name: "Gas compressor station ransomware".into(),
            description: Some("Engineering workstations encrypted; the station ran on manual control for two days.".into()),
            victim: Some(victim("Gazociąg Północ", "energy", "energy", "energy/gas", EntityClass::Essential, "PL")),
            victim_ids: vec![],
            core: core(Determination::Confirmed, "closed", 60),
        },
    )
    .await?;
    let pl_inc = w.id().to_owned();
    let mut ev = Event::new(EventStatus::Occurred);
    ev.name = Some("Ransomware deployed over the VPN".into());
    ev.start_time = ts("2026-11-12T02:15:00Z");
    incident::add_event(&pl, &pl_inc, green, ev, None).await?;
    let mut t = Task::new(TaskOutcome::Successful);
    t.name = Some("Restore the workstations from offline backups".into());
    t.task_types = vec!["recovery".into()];
    t.start_time = ts("2026-11-13T08:00:00Z");
    incident::add_task(&pl, &pl_inc, green, t, None).await?;
    fimi::link(
        &pl,
        energy,
        green,
        &pl_inc,
        &Links {
            uses: vec![demo_malware("cert-pl", energy, TlpLevel::Green)],
            ..Links::default()
        },
    )
    .await?;
    ids.push(pl_inc);

    // cert-lv: a telecom core outage, RED (cert-lv and the hub as a RED recipient only).
    let lv = service(store, coalition, "cert-lv")?;
    let w = incident::new_incident(
        &lv,
        shared,
        red,
        NewIncident {
            name: "Mobile core signalling outage".into(),
            description: Some(
                "Suspected sabotage of signalling servers; emergency calls affected.".into(),
            ),
            victim: Some(victim(
                "Baltkom Mobile",
                "telecommunications",
                "digital-infrastructure",
                "digital-infrastructure/electronic-communications",
                EntityClass::Essential,
                "LV",
            )),
            victim_ids: vec![],
            core: core(Determination::Suspected, "open", 95),
        },
    )
    .await?;
    ids.push(w.id().to_owned());

    // ncsc-nl: PLC tampering at a water utility, AMBER+STRICT (energy-sector).
    let nl = service(store, coalition, "ncsc-nl")?;
    let w = incident::new_incident(
        &nl,
        energy,
        strict,
        NewIncident {
            name: "Water utility PLC tampering".into(),
            description: Some(
                "Set points of a chlorination PLC changed remotely; caught by the operator.".into(),
            ),
            victim: Some(victim(
                "Waterbedrijf Noord",
                "water",
                "drinking-water",
                "",
                EntityClass::Essential,
                "NL",
            )),
            victim_ids: vec![],
            core: core(Determination::Blocked, "new", 70),
        },
    )
    .await?;
    let nl_inc = w.id().to_owned();
    ids.push(nl_inc.clone());

    // FIMI: cert-lt's hack-and-leak fed by cert-ee's intrusion (GREEN, baltic-sharing).
    let lt = service(store, coalition, "cert-lt")?;
    let f = coord::fimi::FimiIncident {
        name: "Leaked grid documents".into(),
        description: Some("Documents stolen from the distributor, altered and leaked to blame the government for the blackout.".into()),
        domain: coord::fimi::IncidentDomain::Hybrid,
        determination: Determination::Confirmed,
        investigation_status: "open".into(),
        criticality: Some(70),
        incident_types: vec!["hack-and-leak".into()],
        disarm_framework_version: Some("1.6".into()),
    };
    let w = fimi::new_incident(
        &lt,
        baltic,
        green,
        &f,
        &Links {
            techniques: vec![
                "T0086.002".into(),
                "T0023".into(),
                "T0115".into(),
                "T0118".into(),
            ],
            narratives: vec!["The blackout was the government's fault".into()],
            channels: vec!["GridTruth@telegram".into()],
            fed_by: vec![ee_inc.clone()],
            ..Links::default()
        },
    )
    .await?;
    let leak = w.id().to_owned();
    let media = coord::fimi::MediaContent {
        url: "https://t.me/gridtruth/112".into(),
        title: Some("\"Internal memo\" on the blackout".into()),
        content: Some("An altered memo claiming the ministry ordered the outage.".into()),
        media_category: Some("post".into()),
        language: Some("et".into()),
        ..coord::fimi::MediaContent::default()
    }
    .build(&lt.common(green))?;
    let rel = coord::object::relationship(&lt.common(green), "uses", &leak, s(&media, "id"))?;
    lt.write(baltic, &[media, rel]).await?;
    ids.push(leak);

    // FIMI: cert-pl's deepfake campaign (CLEAR, coalition-indicators).
    let f = coord::fimi::FimiIncident {
        name: "Deepfake minister video".into(),
        description: Some("An AI-generated video of the energy minister announcing rationing, pushed by paid ads.".into()),
        domain: coord::fimi::IncidentDomain::InformationEnvironment,
        determination: Determination::Confirmed,
        investigation_status: "closed".into(),
        criticality: Some(45),
        incident_types: vec![],
        disarm_framework_version: Some("1.6".into()),
    };
    let w = fimi::new_incident(
        &pl,
        shared,
        clear,
        &f,
        &Links {
            techniques: vec![
                "T0086.002".into(),
                "T0087".into(),
                "T0114".into(),
                "T0118".into(),
                "T0119".into(),
            ],
            narratives: vec!["Rationing is coming this winter".into()],
            channels: vec!["EnergyNews24@facebook".into()],
            ..Links::default()
        },
    )
    .await?;
    ids.push(w.id().to_owned());

    // Assistance: cert-ee asks for forensics; cert-lv offers.
    let w = assist::request(
        &ee,
        baltic,
        amber,
        NewRequest {
            name: "Forensics for the distributor".into(),
            description: Some(
                "Disk and memory forensics of the HMI and the engineering workstations.".into(),
            ),
            mechanism: "coalition".into(),
            needs: vec![need("digital-forensics:10:person-days")?],
            urgency: Some(coord::assist::Urgency::Immediate),
            incidents: vec![ee_inc.clone()],
            cross_border: true,
            severity: Some(85),
            entity_class: Some(coord::assist::PriorityEntityClass::Essential),
            ..NewRequest::default()
        },
    )
    .await?;
    let req = w.id().to_owned();
    assist::offer(
        &lv,
        baltic,
        amber,
        NewOffer {
            requests: vec![req.clone()],
            name: "CERT.LV forensics team".into(),
            services: vec!["digital-forensics".into()],
            capacity: vec![need("digital-forensics:8:person-days")?],
            lead_time_hours: Some(24),
            ..NewOffer::default()
        },
    )
    .await?;
    ids.push(req);
    // ncsc-nl asks for OT incident response (AMBER, energy-sector).
    let w = assist::request(
        &nl,
        energy,
        amber,
        NewRequest {
            name: "OT incident response for the water utility".into(),
            mechanism: "coalition".into(),
            services: vec!["incident-response".into()],
            incidents: vec![nl_inc.clone()],
            urgency: Some(coord::assist::Urgency::Urgent),
            severity: Some(60),
            ..NewRequest::default()
        },
    )
    .await?;
    ids.push(w.id().to_owned());
    Ok(ids)
}
