"""Font subsets are primed with the fixed texts and reused between PDFs."""

from __future__ import annotations

import io

import pypdf
import pytest
from reportlab.pdfbase import pdfmetrics

from teller_guard.printing import build_police_alert, build_slip, fonts, subsets
from teller_guard.printing.content import fixed_texts
from teller_guard.printing.samples import sample_alert, sample_slip


@pytest.fixture
def font():
    status = fonts.font_status()
    if not status.embedded:
        pytest.skip("no embeddable CJK font: nothing to subset")
    return pdfmetrics.getFont(status.name)


def test_primer_holds_every_fixed_text(font):
    primer = subsets.primer_text(font)
    assert len(primer) == len(set(primer)) <= subsets.PRIMED_CHARACTERS
    glyphs = font.face.charToGlyph
    fixed = {ch for ch in "".join(fixed_texts()) if ord(ch) > 127 and ord(ch) in glyphs}
    assert fixed <= set(primer)
    assert "风险提示单" in "".join(fixed_texts())


def test_subsets_are_reused_between_different_slips(font):
    cache = font.built_subset
    build_slip(sample_slip(customer_name_masked="赵*"))
    before = cache.cache_info()
    build_slip(sample_slip(customer_name_masked="钱*", payee_name_masked="孙*", amount=77))
    after = cache.cache_info()
    assert after.hits - before.hits >= 2  # both primed subsets came from the cache
    build_police_alert(sample_alert())
    assert cache.cache_info().hits - after.hits >= 2  # the alert shares them


def test_font_is_the_reusable_kind(font):
    assert isinstance(font, subsets.ReusableSubsetFont)
    assert font.primer == subsets.primer_text(font)


def test_text_from_every_subset_is_extracted(font):
    rare = "鑫淼犇骉"  # not in the primer: goes to a later subset
    pdf = build_slip(sample_slip(customer_name_masked=rare))
    text = "".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf)).pages)
    assert rare in text and "风险提示单" in text
