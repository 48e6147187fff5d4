"""Property test (issue 26): random JSON bodies and random query strings to every endpoint, with
and without the write key, never get a 5xx (but the 501 of a task the model was not trained
for), and every answer is JSON (the page and /metrics answer text)."""

from __future__ import annotations

from urllib.parse import quote

from conftest import API_KEY
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

ENDPOINTS = [
    ("GET", "/"),
    ("GET", "/health"),
    ("GET", "/metrics"),
    ("GET", "/items"),
    ("GET", "/users"),
    ("GET", "/users/{user}/recommendations"),
    ("DELETE", "/users/{user}"),
    ("POST", "/events"),
    ("POST", "/recommend"),
    ("POST", "/rate"),
    ("POST", "/explain"),
    ("POST", "/admin/reload"),
]
TEXT_ANSWERS = {"/", "/metrics"}
NOT_TRAINED = {"/rate", "/explain"}

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.sampled_from([2**63, 2**64, 10**20, -(2**63) - 1])
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)
ids = st.sampled_from(["SOC-01", "SOC-02", "u1", "e1"]) | st.text(max_size=12)
events = st.fixed_dictionaries(
    {
        "id": ids,
        "user": ids,
        "item": ids,
        "type": st.sampled_from(["view", "cart", "x"]) | json_values,
    },
    optional={"timestamp": json_values, "rating": json_values, "review": json_values},
)
bodies = (
    json_values
    | st.fixed_dictionaries({"events": st.lists(events, max_size=3)})
    | st.fixed_dictionaries(
        {},
        optional={
            "history": st.lists(ids, max_size=4) | json_values,
            "k": json_values,
            "exclude_seen": json_values,
            "user": json_values,
            "item": ids | json_values,
            "feature": json_values,
        },
    )
)
# Hypothesis favours small integers; the edges of 64-bit storage are where a 500 hides.
edges = st.sampled_from([2**31, 2**63 - 1, 2**63, 2**64, 10**20, -(2**63) - 1, 10**400])
numbers = (st.integers(min_value=-(2**70), max_value=2**70) | edges).map(str)
queries = st.dictionaries(
    st.sampled_from(["offset", "limit", "k", "lang"]) | st.text(max_size=6),
    numbers | st.text(max_size=12) | st.sampled_from(["ar", "en", "1e3", "NaN", "-0"]),
    max_size=4,
)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    endpoint=st.sampled_from(ENDPOINTS),
    user=ids.filter(lambda u: u not in ("", ".", "..")),
    body=bodies,
    query=queries,
    keyed=st.booleans(),
)
def test_no_request_gets_a_5xx(service_client, endpoint, user, body, query, keyed):
    method, template = endpoint
    headers = {"X-API-Key": API_KEY} if keyed else {}
    path = template.replace("{user}", quote(user, safe=""))
    kwargs = {"json": body} if method == "POST" else {}
    response = service_client.request(method, path, params=query, headers=headers, **kwargs)
    status = response.status_code
    # 501 is the documented answer of /rate and /explain for a model not trained for them.
    assert status < 500 or (status == 501 and template in NOT_TRAINED), (status, response.text)
    if template not in TEXT_ANSWERS or response.status_code >= 400:
        assert isinstance(response.json(), dict)
