//! The OpenAPI 3.0 document of `/api/v1`, built from the route table (paths,
//! methods, scopes, roles) and the data inventory (customer fields and who may
//! read them), so it cannot drift from what the server enforces.

use custodian_domain::inventory;
use serde_json::{Map, Value, json};

use crate::access::{Access, Endpoint};

/// What the route table does not say about an API operation.
struct Doc {
    method: &'static str,
    path: &'static str,
    id: &'static str,
    summary: &'static str,
    /// Component schema of the JSON body, if any.
    request: Option<&'static str>,
    /// Status and component schema of the success answer.
    response: (u16, &'static str),
    /// Takes the `purpose` query parameter (an audited read).
    purpose: bool,
    /// Media type of the body: JSON, or JSON lines for the import.
    media: &'static str,
}

const JSON: &str = "application/json";

const DOCS: &[Doc] = &[
    Doc {
        method: "post",
        path: "/api/v1/customers",
        id: "createCustomer",
        summary: "Create a customer (audited; `on_behalf` marks a record entered for the customer, M2)",
        request: Some("NewCustomer"),
        response: (201, "Created"),
        purpose: false,
        media: JSON,
    },
    Doc {
        method: "post",
        path: "/api/v1/customers/search",
        id: "searchCustomers",
        summary: "Find customer numbers by number, exact e-mail, KVK or one whole word of the name; decrypts nothing",
        request: Some("Search"),
        response: (200, "CustomerIds"),
        purpose: true,
        media: JSON,
    },
    Doc {
        method: "get",
        path: "/api/v1/customers/{id}",
        id: "readCustomer",
        summary: "Read a customer: the fields the token's role may see; the read is audited with its purpose",
        request: None,
        response: (200, "CustomerRecord"),
        purpose: true,
        media: JSON,
    },
    Doc {
        method: "patch",
        path: "/api/v1/customers/{id}",
        id: "updateCustomer",
        summary: "Change fields (an empty value clears one); all are validated together and nothing is saved if any is invalid",
        request: Some("Changes"),
        response: (200, "Changed"),
        purpose: false,
        media: JSON,
    },
    Doc {
        method: "get",
        path: "/api/v1/customers/{id}/export",
        id: "exportCustomer",
        summary: "Everything held about a customer that the token's role may see (audited)",
        request: None,
        response: (200, "Export"),
        purpose: true,
        media: JSON,
    },
    Doc {
        method: "get",
        path: "/api/v1/customers/{id}/invoices",
        id: "listInvoices",
        summary: "A customer's invoices with their billing snapshot (finance roles only, A4; audited)",
        request: None,
        response: (200, "Invoices"),
        purpose: true,
        media: JSON,
    },
    Doc {
        method: "post",
        path: "/api/v1/customers/{id}/invoices",
        id: "createInvoice",
        summary: "Issue an invoice; the customer's billing details are copied in (finance roles only, A4)",
        request: Some("NewInvoice"),
        response: (201, "CreatedInvoice"),
        purpose: false,
        media: JSON,
    },
    Doc {
        method: "post",
        path: "/api/v1/customers/{id}/services",
        id: "createService",
        summary: "Add a service for the customer",
        request: Some("NewService"),
        response: (201, "Created"),
        purpose: false,
        media: JSON,
    },
    Doc {
        method: "post",
        path: "/api/v1/customers/{id}/services/end",
        id: "endService",
        summary: "End a running service of the customer (`ended` is false when it had ended already)",
        request: Some("EndService"),
        response: (200, "Ended"),
        purpose: false,
        media: JSON,
    },
    Doc {
        method: "post",
        path: "/api/v1/invoices/payments",
        id: "recordPayment",
        summary: "Record a (partial) payment; refused for more than is due (409 `more_than_due`) or when nothing is due",
        request: Some("NewPayment"),
        response: (200, "Settlement"),
        purpose: false,
        media: JSON,
    },
    Doc {
        method: "post",
        path: "/api/v1/invoices/credit-notes",
        id: "creditInvoice",
        summary: "Issue a credit note for an invoice: its own number, negative lines (all of the invoice's when none are given)",
        request: Some("NewCreditNote"),
        response: (201, "CreditNote"),
        purpose: false,
        media: JSON,
    },
    Doc {
        method: "post",
        path: "/api/v1/invoices/import",
        id: "importInvoices",
        summary: "Import invoices, one JSON object per line, idempotent on the number; all or nothing (422 `import_invalid` lists each bad line); `?dry_run=true` reports per line and saves nothing",
        request: Some("ImportInvoices"),
        response: (200, "ImportResult"),
        purpose: false,
        media: "application/x-ndjson",
    },
    Doc {
        method: "get",
        path: "/api/v1/customers/{id}/audit",
        id: "customerAuditLog",
        summary: "Who did what with a customer's data, and why",
        request: None,
        response: (200, "AuditEntries"),
        purpose: false,
        media: JSON,
    },
    Doc {
        method: "get",
        path: "/api/v1/audit/verify",
        id: "verifyAudit",
        summary: "Check the hash chain of the whole audit trail",
        request: None,
        response: (200, "Verification"),
        purpose: false,
        media: JSON,
    },
];

fn doc(route: &Endpoint) -> Option<&'static Doc> {
    DOCS.iter().find(|d| d.method == route.method && d.path == route.path)
}

fn schema(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

fn answer(description: &str, schema_name: &str) -> Value {
    json!({ "description": description, "content": { "application/json": { "schema": schema(schema_name) } } })
}

fn operation(route: &Endpoint, doc: &Doc, scope: &str, roles: &[inventory::Role]) -> Value {
    let roles = roles.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(", ");
    let mut parameters = vec![];
    if route.path.contains("{id}") {
        parameters.push(json!({
            "name": "id", "in": "path", "required": true,
            "description": "Customer number", "schema": { "type": "integer", "format": "int64", "minimum": 1 }
        }));
    }
    if doc.purpose {
        parameters.push(json!({
            "name": "purpose", "in": "query", "required": true,
            "description": "Why the data is read; recorded in the audit trail. The bookkeeper may only give `billing`, staff anything but `billing`.",
            "schema": { "type": "string", "enum": custodian_store::AccessPurpose::ALL.iter().map(|p| p.as_str()).filter(|p| *p != "retention").collect::<Vec<_>>() }
        }));
    }
    if doc.id == "importInvoices" {
        parameters.push(json!({
            "name": "dry_run", "in": "query", "required": false,
            "description": "Report per line what would happen; save nothing.",
            "schema": { "type": "boolean", "default": false }
        }));
    }
    let mut responses = Map::new();
    responses.insert(doc.response.0.to_string(), answer("Success", doc.response.1));
    for (status, why) in [
        ("400", "The body or a parameter is malformed, or the purpose is missing"),
        ("401", "No valid token (unknown, revoked or expired)"),
        ("403", "The token's role or scopes do not allow this"),
        ("404", "No such customer, or erased"),
        ("409", "Not possible in the current state"),
        ("422", "One or more fields are invalid; `fields` names each with its rule. Nothing was saved"),
        ("429", "Too many invalid tokens from this address"),
    ] {
        responses.insert(status.into(), answer(why, "Error"));
    }
    let mut op = json!({
        "operationId": doc.id,
        "summary": doc.summary,
        "description": format!("Scope `{scope}`. Roles: {roles}."),
        "x-custodian-scope": scope,
        "parameters": parameters,
        "responses": responses,
        "security": [{ "bearer": [] }],
    });
    if let Some(body) = doc.request {
        let mut content = Map::new();
        content.insert(doc.media.into(), json!({ "schema": schema(body) }));
        op["requestBody"] = json!({ "required": true, "content": content });
    }
    op
}

/// The customer's personal fields, as the inventory declares them.
/// The string schema of a customer field as its validator reads it: a
/// choice, or a named format for the validators a JSON schema cannot state
/// (check digits, the postal code per country). Values that pass them are
/// in `crates/custodian/tests/tools/schemathesis_hooks.py`.
fn customer_field(column: &str) -> Value {
    let choice = |values: &[&str]| json!({ "type": "string", "enum": values });
    match column {
        "gender" => choice(&["unspecified", "female", "male", "other"]),
        "language" => choice(&["nl", "en"]),
        "email_consent" => choice(&["yes", "no"]),
        "email" | "email2" => json!({ "type": "string", "format": "mailbox" }),
        "phone" | "phone2" => {
            json!({ "type": "string", "format": "phone-number", "description": "Dutch or international (E.164)" })
        }
        "visit_postcode" | "corr_postcode" => {
            json!({ "type": "string", "format": "postal-code", "description": "1234 AB in the Netherlands; elsewhere 2 to 10 letters, digits, spaces or hyphens" })
        }
        "visit_country" | "corr_country" => {
            json!({ "type": "string", "format": "country", "description": "ISO 3166 code or name; default NL" })
        }
        "iban" => {
            json!({ "type": "string", "format": "iban", "description": "ISO 13616, with national check digits where the country has them" })
        }
        "btw" => {
            json!({ "type": "string", "format": "vat-number", "description": "Dutch VAT number (11-check or mod-97)" })
        }
        "kvk" => json!({ "type": "string", "format": "kvk-number", "description": "8 digits" }),
        _ => {
            json!({ "type": "string", "format": "line", "description": "one line of visible text, at most 200 characters" })
        }
    }
}

fn customer_fields() -> Value {
    let properties: Map<String, Value> = inventory::fields_of("customers")
        .map(|f| {
            let readers = f.readers().iter().map(|r| r.as_str()).collect::<Vec<_>>().join(", ");
            let mut schema = customer_field(f.column);
            let said = schema.get("description").and_then(Value::as_str).map(|d| format!("; {d}")).unwrap_or_default();
            schema["description"] = json!(format!("{} (readable by: {readers}){said}", f.label_en));
            (f.column.to_string(), schema)
        })
        .collect();
    json!({ "type": "object", "properties": properties, "additionalProperties": false })
}

/// What ties customer fields together: the IBAN comes with its holder, and
/// the correspondence address is given whole or not at all.
fn field_groups() -> [Value; 2] {
    let corr = ["corr_street", "corr_postcode", "corr_city", "corr_country"];
    let any_corr: Vec<Value> = corr.iter().map(|c| json!({ "required": [c] })).collect();
    [
        json!({ "anyOf": [{ "not": { "required": ["iban"] } }, { "required": ["iban", "iban_holder"] }] }),
        json!({ "anyOf": [{ "not": { "anyOf": any_corr } }, { "required": ["corr_street", "corr_postcode", "corr_city"] }] }),
    ]
}

/// The fields of a new customer of `kind`, with those the kind requires.
fn new_customer(kind: &str, name: &str) -> Value {
    let [iban, corr] = field_groups();
    json!({
        "type": "object", "required": ["kind", "fields"], "additionalProperties": false,
        "properties": {
            "kind": { "type": "string", "enum": [kind] },
            "on_behalf": { "type": "boolean", "default": false },
            "fields": {
                "allOf": [
                    schema("CustomerFields"),
                    { "required": [name, "email", "visit_street", "visit_postcode", "visit_city"] },
                    iban,
                    corr,
                ]
            },
        }
    })
}

/// One object per way of searching, each with its single key.
fn search_variants() -> Vec<Value> {
    let formatted = |format: &str| json!({ "type": "string", "format": format });
    [
        ("number", json!({ "type": "integer", "format": "int64" })),
        ("email", formatted("mailbox")),
        ("kvk", formatted("kvk-number")),
        ("name", formatted("line")),
    ]
    .into_iter()
    .map(|(key, schema)| {
        let mut properties = Map::new();
        properties.insert(key.into(), schema);
        json!({ "type": "object", "required": [key], "additionalProperties": false, "properties": properties })
    })
    .collect()
}

fn components() -> Value {
    let list = |items: Value| json!({ "type": "array", "items": items });
    let object = json!({ "type": "object" });
    let mut components = json!({
        "securitySchemes": {
            "bearer": { "type": "http", "scheme": "bearer", "description": "An API token (`cst_…`) made by the owner in the back-office or with `custodian api-token create`." }
        },
        "schemas": {
            "CustomerFields": customer_fields(),
            "NewCustomer": {
                "description": "A business needs its company name, a private person their name; both an e-mail address and a visiting address.",
                "oneOf": [new_customer("business", "company_name"), new_customer("private", "contact_name")],
            },
            "Changes": {
                "type": "object", "required": ["fields"], "additionalProperties": false,
                "properties": { "fields": { "allOf": [schema("CustomerFields"), field_groups()[0].clone(), field_groups()[1].clone()] } }
            },
            "Search": { "description": "Exactly one way to look up.", "oneOf": search_variants() },
            "CustomerIds": { "type": "object", "properties": { "customers": list(json!({ "type": "integer", "format": "int64" })) } },
            "Created": { "type": "object", "properties": { "id": { "type": "integer", "format": "int64" } } },
            "Changed": { "type": "object", "properties": { "changed": list(json!({ "type": "string" })) } },
            "CustomerRecord": {
                "type": "object",
                "properties": {
                    "id": { "type": "integer", "format": "int64" },
                    "kind": { "type": "string", "enum": ["business", "private"] },
                    "status": { "type": "string" },
                    "entered_by": { "type": "string", "nullable": true },
                    "created_at": { "type": "integer", "format": "int64", "description": "microseconds since 1970 (UTC)" },
                    "updated_at": { "type": "integer", "format": "int64" },
                    "fields": schema("CustomerFields"),
                    "withheld": { "type": "array", "items": { "type": "string" }, "description": "fields the token's role may not see" },
                }
            },
            "Export": {
                "type": "object",
                "properties": {
                    "format": { "type": "string" },
                    "generated_at": { "type": "integer", "format": "int64" },
                    "customer": schema("CustomerRecord"),
                    "contacts": list(object.clone()),
                    "services": list(object.clone()),
                    "invoices": { "type": "array", "items": object.clone(), "nullable": true, "description": "null for roles that may not see invoices" },
                    "statute_acceptances": list(object.clone()),
                    "access_log": list(schema("AuditEntry")),
                }
            },
            "Invoices": { "type": "object", "properties": { "invoices": list(object.clone()) } },
            "AuditEntry": {
                "type": "object",
                "properties": {
                    "seq": { "type": "integer", "format": "int64" },
                    "at": { "type": "integer", "format": "int64" },
                    "actor_kind": { "type": "string", "enum": ["operator", "staff", "customer", "job", "api"] },
                    "actor_id": { "type": "string" },
                    "action": { "type": "string" },
                    "subject_kind": { "type": "string" },
                    "subject_id": { "type": "string" },
                    "fields": list(json!({ "type": "string" })),
                    "purpose": { "type": "string" },
                    "source": { "type": "string", "description": "client address; owner only" },
                }
            },
            "AuditEntries": { "type": "object", "properties": { "entries": list(schema("AuditEntry")) } },
            "Verification": {
                "type": "object",
                "properties": {
                    "intact": { "type": "boolean" },
                    "entries": { "type": "integer", "format": "int64" },
                    "problem": { "type": "object", "nullable": true, "properties": { "seq": { "type": "integer" }, "kind": { "type": "string" } } },
                }
            },
            "Error": {
                "type": "object",
                "properties": {
                    "error": {
                        "type": "object", "required": ["code", "message"],
                        "properties": {
                            "code": { "type": "string" },
                            "message": { "type": "string", "description": "Dutch, or English with `Accept-Language: en`" },
                            "fields": list(json!({
                                "type": "object",
                                "properties": { "field": { "type": "string" }, "rule": { "type": "string" }, "message": { "type": "string" } }
                            })),
                        }
                    }
                }
            },
        }
    });
    for (name, schema) in write_schemas(list) {
        components["schemas"][name] = schema;
    }
    components
}

/// What an invoice number may be (`check_invoice`).
const INVOICE_NUMBER: &str = "^[A-Za-z0-9/-]{1,32}$";

/// The schemas of the service and invoice writes, one `json!` each (a single
/// one would exceed the macro's recursion limit).
fn write_schemas(list: impl Fn(Value) -> Value) -> Vec<(&'static str, Value)> {
    let lines = json!({ "type": "array", "minItems": 1, "items": schema("InvoiceLine") });
    vec![
        (
            "InvoiceLine",
            json!({
                "type": "object", "required": ["description", "quantity", "unit_price_cents", "vat_rate"], "additionalProperties": false,
                "properties": {
                    "description": { "type": "string", "format": "line" },
                    "quantity": { "type": "integer", "minimum": 1, "maximum": 1000000 },
                    "unit_price_cents": { "type": "integer", "minimum": -100000000, "maximum": 100000000 },
                    "vat_rate": {
                        "description": "VAT percentage from 0 to 100 with at most two decimals: 21, 9, 10.5 or \"10,5%\"",
                        "oneOf": [
                            { "type": "number", "minimum": 0, "maximum": 100, "multipleOf": 0.01 },
                            { "type": "string", "pattern": "^(100([.,]0{1,2})?|[0-9]{1,2}([.,][0-9]{1,2})?)%?$" },
                        ]
                    },
                }
            }),
        ),
        (
            "NewInvoice",
            json!({
                "type": "object", "required": ["number", "issued_on", "lines"], "additionalProperties": false,
                "properties": {
                    "number": { "type": "string", "pattern": INVOICE_NUMBER, "description": "at most 32 letters, digits, - or /; unique" },
                    "issued_on": { "type": "string", "format": "date" },
                    "due_on": { "type": "string", "format": "date", "description": "not before issued_on; default 30 days after it" },
                    "delivery": { "type": "string", "enum": ["post", "email"], "default": "post" },
                    "lines": lines,
                }
            }),
        ),
        (
            "ImportInvoice",
            json!({
                "description": "One line of the body: an invoice as in NewInvoice, with the customer number and any payments already received.",
                "type": "object", "required": ["customer", "number", "issued_on", "lines"], "additionalProperties": false,
                "properties": {
                    "customer": { "type": "integer", "format": "int64", "minimum": 1 },
                    "number": { "type": "string", "pattern": INVOICE_NUMBER },
                    "issued_on": { "type": "string", "format": "date" },
                    "due_on": { "type": "string", "format": "date" },
                    "delivery": { "type": "string", "enum": ["post", "email"] },
                    "lines": lines,
                    "payments": list(json!({
                        "type": "object", "required": ["paid_on", "amount_cents"], "additionalProperties": false,
                        "properties": { "paid_on": { "type": "string", "format": "date" }, "amount_cents": { "type": "integer", "minimum": 1 } }
                    })),
                }
            }),
        ),
        (
            "ImportInvoices",
            json!({
                "description": "The invoices, each written as one line of JSON (NDJSON).",
                "type": "array", "minItems": 1, "items": schema("ImportInvoice"),
            }),
        ),
        (
            "ImportResult",
            json!({
                "type": "object",
                "properties": {
                    "dry_run": { "type": "boolean" },
                    "summary": {
                        "type": "object",
                        "properties": {
                            "created": { "type": "integer" }, "unchanged": { "type": "integer" },
                            "errors": { "type": "integer" }, "written": { "type": "boolean" },
                        }
                    },
                    "lines": list(json!({
                        "type": "object",
                        "description": "every invoice in a dry run, else the ones in error",
                        "properties": {
                            "line": { "type": "integer" },
                            "number": { "type": "string", "nullable": true },
                            "outcome": { "type": "string", "enum": ["created", "unchanged", "error"] },
                            "problems": list(json!({
                                "type": "object",
                                "properties": { "line": { "type": "integer" }, "field": { "type": "string" }, "rule": { "type": "string" }, "message": { "type": "string" } }
                            })),
                        }
                    })),
                }
            }),
        ),
        (
            "CreatedInvoice",
            json!({ "type": "object", "properties": { "id": { "type": "integer", "format": "int64" }, "number": { "type": "string" } } }),
        ),
        (
            "NewService",
            json!({
                "type": "object", "required": ["fields"], "additionalProperties": false,
                "properties": { "fields": {
                    "type": "object", "required": ["kind", "description", "started_on"], "additionalProperties": false,
                    "properties": {
                        "kind": { "type": "string", "enum": ["domain", "hosting", "email", "website", "managed_server", "vps"] },
                        "status": { "type": "string", "enum": ["pending", "active", "suspended", "ended"], "default": "active" },
                        "description": { "type": "string", "format": "line" },
                        "started_on": { "type": "string", "format": "date" },
                        "ended_on": { "type": "string", "format": "date" },
                        "for_third_party": { "type": "string", "enum": ["yes", "no"], "default": "no", "description": "delivered for someone else on the customer's behalf (M1)" },
                    }
                } }
            }),
        ),
        (
            "EndService",
            json!({
                "type": "object", "required": ["service"], "additionalProperties": false,
                "properties": { "service": { "type": "integer", "format": "int64" }, "on": { "type": "string", "format": "date", "description": "the last day; default today" } }
            }),
        ),
        ("Ended", json!({ "type": "object", "properties": { "ended": { "type": "boolean" } } })),
        (
            "NewPayment",
            json!({
                "type": "object", "required": ["invoice", "amount_cents"], "additionalProperties": false,
                "properties": {
                    "invoice": { "type": "string", "description": "invoice number" },
                    "amount_cents": { "type": "integer", "minimum": 1 },
                    "paid_on": { "type": "string", "format": "date", "description": "default today" },
                }
            }),
        ),
        (
            "Settlement",
            json!({
                "type": "object",
                "properties": {
                    "number": { "type": "string" },
                    "state": { "type": "string", "enum": ["open", "overdue", "paid", "credited", "credit_note"] },
                    "total_cents": { "type": "integer" }, "paid_cents": { "type": "integer" },
                    "credited_cents": { "type": "integer" }, "outstanding_cents": { "type": "integer" },
                    "paid_on": { "type": "string", "format": "date", "nullable": true, "description": "the day nothing was due any more" },
                }
            }),
        ),
        (
            "NewCreditNote",
            json!({
                "type": "object", "required": ["invoice"], "additionalProperties": false,
                "properties": {
                    "invoice": { "type": "string", "description": "number of the invoice credited" },
                    "number": { "type": "string", "pattern": INVOICE_NUMBER, "description": "default the next CN-<year>-NNNN" },
                    "issued_on": { "type": "string", "format": "date", "description": "default today" },
                    "lines": lines,
                }
            }),
        ),
        (
            "CreditNote",
            json!({
                "type": "object",
                "properties": {
                    "id": { "type": "integer", "format": "int64" },
                    "number": { "type": "string" },
                    "total_cents": { "type": "integer", "description": "negative" },
                    "invoice": schema("Settlement"),
                }
            }),
        ),
    ]
}

/// The document of `routes`, with `server` as the base address.
pub(crate) fn document(server: &str, routes: &[Endpoint]) -> Value {
    let mut paths: Map<String, Value> = Map::new();
    for route in routes {
        let (Access::Api(scope, ..), Some(doc)) = (route.access, doc(route)) else { continue };
        let item = paths.entry(route.path.to_string()).or_insert_with(|| json!({}));
        item[route.method] = operation(route, doc, scope.as_str(), &route.access.roles());
    }
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "custodian API",
            "version": "1",
            "description": "Customer administration for automation. Every call acts with the role of its token, within its scopes, and is recorded in the audit trail like a staff member's. Personal data never goes in a URL: searches take a JSON body.",
        },
        "servers": [{ "url": server.trim_end_matches('/') }],
        "paths": paths,
        "components": components(),
    })
}

/// API routes of `routes` the document does not describe.
pub(crate) fn undocumented(routes: &[Endpoint]) -> Vec<String> {
    routes
        .iter()
        .filter(|r| matches!(r.access, Access::Api(..)) && doc(r).is_none())
        .map(|r| format!("{} {}", r.method, r.path))
        .collect()
}
