"""Values that pass custodian's validators, for the formats its OpenAPI
document names where a JSON schema cannot state the rule (check digits, the
postal code per country, what counts as visible text). schemathesis builds
schema-valid requests from them; every value here was checked with
`custodian validate`. Loaded by crates/custodian/tests/schemathesis.rs
through SCHEMATHESIS_HOOKS."""

import json

import schemathesis
from hypothesis import strategies as st

schemathesis.openapi.format(
    "mailbox",
    st.from_regex(r"\A[a-z]{1,12}(\.[a-z]{1,8})?@[a-z]{2,12}\.(nl|com|eu|be)\Z"),
)
# Mobile (06) and Amsterdam (020) numbers, written as people write them.
schemathesis.openapi.format(
    "phone-number",
    st.one_of(
        st.from_regex(r"\A06[1-5][0-9]{7}\Z"),
        st.from_regex(r"\A020[2-9][0-9]{6}\Z"),
        st.from_regex(r"\A\+316[1-5][0-9]{7}\Z"),
    ),
)
# Dutch postal codes (no SA, SD or SS), which every country's rule accepts.
schemathesis.openapi.format("postal-code", st.from_regex(r"\A[1-9][0-9]{3} ?[A-RT-Z][A-Z]\Z"))
schemathesis.openapi.format("country", st.sampled_from(["NL", "BE", "DE", "nl", "Nederland", "Belgium"]))
schemathesis.openapi.format(
    "iban",
    st.sampled_from(
        [
            "NL91ABNA0417164300",
            "NL91 ABNA 0417 1643 00",
            "DE89370400440532013000",
            "BE68539007547034",
            "GB29NWBK60161331926819",
        ]
    ),
)
schemathesis.openapi.format(
    "vat-number",
    st.sampled_from(
        [
            "NL000099998B57",
            "NL908301662B01",
            "NL131860914B01",
            "NL390996038B01",
            "NL082462811B01",
            "NL948219932B01",
        ]
    ),
)
schemathesis.openapi.format("kvk-number", st.from_regex(r"\A[0-9]{8}\Z"))
schemathesis.openapi.format("line", st.from_regex(r"\A[A-Za-z0-9][A-Za-z0-9 .,'&()/-]{0,40}\Z"))


@schemathesis.serializer("application/x-ndjson")
def ndjson(ctx, value):
    """The invoice import's body: each invoice on a line of its own."""
    items = value if isinstance(value, list) else [value]
    return "".join(json.dumps(item) + "\n" for item in items).encode()


def _before(item, first, then):
    """Whether `item` has a date `then` earlier than its date `first`."""
    if not isinstance(item, dict):
        return False
    a, b = item.get(first), item.get(then)
    return isinstance(a, str) and isinstance(b, str) and b < a


@schemathesis.hook
def filter_body(ctx, body):
    """Rules between two fields that the schema states in words only: an
    invoice is not due before it is issued, a service does not end before it
    started."""
    items = body if isinstance(body, list) else [body]
    fields = [i.get("fields") for i in items if isinstance(i, dict)]
    return not any(_before(i, "issued_on", "due_on") for i in items) and not any(
        _before(f, "started_on", "ended_on") for f in fields
    )
