"""Hypothesis strategies the property tests share: any text, any JSON, any header value."""

from __future__ import annotations

from hypothesis import strategies as st

# Any text: NUL, other controls, bidi overrides, astral planes (JSON cannot carry lone surrogates).
texts = st.text(max_size=40)
int64 = st.integers(-(2**63), 2**63 - 1)
json_scalars = st.none() | st.booleans() | int64 | st.floats(allow_nan=False, allow_infinity=False) | texts
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(texts, inner, max_size=4),
    max_leaves=12,
)
# What a header value may carry on the wire: visible ASCII, spaces, tabs and Latin-1 bytes.
header_text = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xFF) | st.just("\t"), max_size=40
)
