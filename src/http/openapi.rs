//! The OpenAPI 3.1 description, built from the same [`super::endpoints`] list the router is built
//! from. Request bodies have exact schemas (they reject unknown fields, as the handlers do);
//! responses are described by name and their main fields.

use serde_json::{Map, Value, json};

fn string() -> Value {
    json!({"type": "string"})
}

fn nullable_string() -> Value {
    json!({"type": ["string", "null"]})
}

fn object(required: &[&str], properties: Value) -> Value {
    json!({"type": "object", "additionalProperties": false, "required": required, "properties": properties})
}

fn loose(description: &str, properties: Value) -> Value {
    json!({"type": "object", "description": description, "properties": properties})
}

fn schemas() -> Value {
    let risk = json!({"type": ["string", "null"], "enum": ["blue", "yellow", "orange", "red", null]});
    let case_ref = json!({"$ref": "#/components/schemas/Case"});
    json!({
        "TriageRequest": object(&["text"], json!({
            "text": {"type": "string", "description": "the complaint as pasted, at most 20,000 characters"},
            "region": nullable_string(), "phone": nullable_string(), "address": nullable_string(),
            "other_regions": {"type": "array", "items": string(), "description": "further regions a cross-region dispute spans"}
        })),
        "CreateCase": object(&["text"], json!({
            "text": string(), "region": nullable_string(), "phone": nullable_string(), "address": nullable_string(),
            "caller_name": nullable_string(),
            "channel": {"type": ["string", "null"], "enum": ["hotline", "web", "wechat", "walk_in", "grid", "import", null]},
            "type": {"type": ["string", "null"], "description": "confirmed or corrected dispute type code"},
            "risk": risk.clone(),
            "external_id": nullable_string(),
            "other_regions": {"type": "array", "items": string(), "description": "further regions a cross-region dispute spans"}
        })),
        "Transition": object(&["to"], json!({"to": {"type": "string", "enum": ["new", "assigned", "in_progress", "resolved", "failed", "escalated", "closed"]}, "note": nullable_string()})),
        "Labels": object(&[], json!({"type": nullable_string(), "risk": risk})),
        "Outcome": object(&["result"], json!({"result": {"type": "string", "enum": ["written", "oral", "failed", "escalated"]}, "note": nullable_string()})),
        "FollowUp": object(&[], json!({"satisfaction": {"type": ["integer", "null"], "minimum": 1, "maximum": 5}, "criminal": {"type": "boolean", "description": "the dispute has since turned into a criminal case (民转刑)"}, "note": nullable_string()})),
        "StarDecision": object(&["decision", "stars", "period"], json!({"decision": {"type": "string", "enum": ["confirm", "reject"]}, "stars": {"type": "integer", "minimum": 1, "maximum": 5}, "period": string(), "note": nullable_string()})),
        "Assign": object(&["mediator_id"], json!({"mediator_id": string(), "note": nullable_string()})),
        "Note": object(&["text"], json!({"text": {"type": "string", "maxLength": 2000}})),
        "Rules": object(&["toml"], json!({"toml": {"type": "string", "description": "the whole routing.toml"}})),
        "MediatorInput": object(&["name", "stars", "tier", "region", "capacity"], json!({
            "name": string(), "stars": {"type": "integer", "minimum": 1, "maximum": 5},
            "tier": {"type": "string", "enum": ["village", "township", "county", "emergency"]},
            "region": string(), "specialties": {"type": "array", "items": string()}, "capacity": {"type": "integer", "minimum": 0}
        })),
        "NewUser": object(&["name", "role"], json!({
            "name": string(), "role": {"type": "string", "enum": ["operator", "supervisor", "mediator", "admin"]},
            "region": nullable_string(), "mediator_id": nullable_string(), "days": {"type": ["integer", "null"], "minimum": 1, "maximum": 3650}
        })),
        "Error": loose("an error", json!({"error": {"type": "object", "properties": {"code": string(), "message": string(), "hint": string()}}})),
        "Health": loose("health", json!({"status": string()})),
        "Me": loose("the signed-in user", json!({"name": string(), "role": string(), "region": nullable_string(), "mediator_id": nullable_string(), "can_unmask": {"type": "boolean"}})),
        "Triage": loose("a triage result", json!({"type": {"type": "object"}, "risk": {"type": "object"}, "related": {"type": "array"}, "routing": {"type": "object"}, "masked_text": string()})),
        "Case": loose("a case as the user may see it", json!({"id": {"type": "integer"}, "type": string(), "risk": string(), "status": string(), "next": {"type": "array", "items": string()}, "due_at": nullable_string(), "overdue": {"type": "boolean"}, "masked": {"type": "boolean"}})),
        "CaseEnvelope": loose("one case", json!({"case": case_ref.clone()})),
        "CreatedCase": loose("the stored case and the triage it was made from", json!({"case": case_ref.clone(), "triage": {"$ref": "#/components/schemas/Triage"}})),
        "CaseDetail": loose("a case, its timeline and related cases", json!({"case": case_ref.clone(), "events": {"type": "array"}, "related": {"type": "array"}})),
        "CaseList": loose("cases", json!({"cases": {"type": "array", "items": case_ref}})),
        "SearchResult": loose("matches", json!({"total": {"type": "integer"}, "facets": {"type": "object"}, "hits": {"type": "array"}})),
        "Dashboard": loose("dashboard numbers", json!({"days": {"type": "array"}, "by_type": {"type": "object"}, "by_risk": {"type": "object"}, "region_type": {"type": "object"}, "open_high": {"type": "array"}, "overdue": {"type": "array"}, "alerts": {"type": "array"}})),
        "Alerts": loose("hotspot alerts", json!({"alerts": {"type": "array"}})),
        "Mediators": loose("the roster", json!({"mediators": {"type": "array"}})),
        "Evaluation": loose("each mediator's figures and suggested stars for a period", json!({"period": string(), "mediators": {"type": "array"}, "unknown_mediators": {"type": "array"}})),
        "StarHistory": loose("star decisions", json!({"events": {"type": "array"}})),
        "Subsidies": loose("subsidies per mediator, township and county", json!({"period": string(), "mediators": {"type": "array"}, "by_township": {"type": "array"}, "by_county": {"type": "array"}, "total": {"type": "number"}})),
        "MediatorEnvelope": loose("one mediator", json!({"mediator": {"type": "object"}})),
        "Users": loose("users", json!({"users": {"type": "array"}})),
        "NewUserReply": loose("the new user and their token", json!({"user": {"type": "object"}, "token": string()})),
        "Audit": loose("audit entries", json!({"entries": {"type": "array"}})),
        "Object": {"type": "object"},
        "Text": {"type": "string"},
        "Empty": {"type": "null"}
    })
}

/// The document served at `/api/openapi.json`.
pub fn document() -> Value {
    let mut paths: Map<String, Value> = Map::new();
    for (e, _) in super::endpoints() {
        let mut parameters: Vec<Value> = e
            .path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
            .collect();
        parameters.extend(e.query.iter().map(|(name, ty, description)| json!({"name": name, "in": "query", "required": false, "description": description, "schema": {"type": ty}})));
        let mut op = json!({
            "summary": e.summary,
            "description": format!("Allowed: {}.", e.roles),
            "operationId": format!("{}_{}", e.method.to_lowercase(), e.path.trim_start_matches('/').replace(['/', '.', '{', '}', '-'], "_")),
            "parameters": parameters,
            "responses": {
                e.ok.to_string(): if e.ok == 204 { json!({"description": "done"}) } else { json!({"description": "success", "content": {e.media: {"schema": {"$ref": format!("#/components/schemas/{}", e.response)}}}}) },
                "default": {"description": "an error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
            }
        });
        if let Some(body) = e.body {
            op["requestBody"] = json!({"required": true, "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{body}")}}}});
        }
        if e.auth {
            op["security"] = json!([{"bearer": []}]);
        }
        paths.entry(e.path.to_string()).or_insert_with(|| json!({}))[e.method.to_lowercase()] = op;
    }
    json!({
        "openapi": "3.1.0",
        "info": {"title": "fengqiao", "version": env!("CARGO_PKG_VERSION"), "description": "Conflict early warning and triage (矛盾纠纷预警与分流): triage, cases, search, queues, dashboard, roster and users. Every call except /healthz and this document needs `Authorization: Bearer <token>`."},
        "paths": paths,
        "components": {"schemas": schemas(), "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}}
    })
}
