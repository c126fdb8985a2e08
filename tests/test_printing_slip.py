"""The customer's warning slip: text, page sizes, reproducibility, odd data."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
from decimal import Decimal

import pypdf
import pytest
from reportlab.lib.units import mm

from teller_guard.printing import build_slip, content
from teller_guard.printing.samples import sample_slip

A5_POINTS = (148 * mm, 210 * mm)


def read(pdf: bytes) -> pypdf.PdfReader:
    assert pdf.startswith(b"%PDF-")
    return pypdf.PdfReader(io.BytesIO(pdf))


def text_of(pdf: bytes) -> str:
    """All text without whitespace: CJK lines wrap anywhere, so compare without breaks."""
    return re.sub(r"\s+", "", "".join(page.extract_text() for page in read(pdf).pages))


def squeeze(value: str) -> str:
    return re.sub(r"\s+", "", value)


def lowest_text_y(page) -> float:
    lowest = []

    def visitor(text, cm, tm, font_dict, font_size):
        if text.strip():
            lowest.append(tm[5] * cm[3] + cm[5])

    page.extract_text(visitor_text=visitor)
    return min(lowest)


@pytest.mark.parametrize("paper", ["a5", "roll80"])
def test_slip_says_what_the_customer_must_read(paper):
    text = text_of(build_slip(sample_slip(), paper=paper))
    for expected in (
        "示例银行", "沙河支行营业部", "风险提示单", "2026年11月30日09:05", "TG-20261130-000123",
        "¥50,000.00", "6222********1234", "张*", "是否异地是",
        "冒充公检法", "凡是要求您把钱转到“安全账户”配合调查的，都是诈骗", "虚假网络贷款",
        content.slogans_text(), content.four_nos_text(), "110", "报警电话",
        "96110", "反诈预警劝阻专线", content.WARNED_SENTENCE, "客户签名", "日期",
        "经办柜员：T0107", "尊敬的客户王*",
    ):
        assert squeeze(expected) in text, expected


def test_slip_without_typologies_prints_the_general_warning():
    text = text_of(build_slip(sample_slip(warnings=())))
    assert "防骗提示" in text
    assert squeeze(content.GENERAL_WARNING[1]) in text
    assert "冒充公检法" not in text


def test_invariant_builds_are_byte_identical():
    for paper in ("a5", "roll80"):
        first = build_slip(sample_slip(), paper=paper, invariant=True)
        assert build_slip(sample_slip(), paper=paper, invariant=True) == first


def test_a5_page_size_and_one_page():
    reader = read(build_slip(sample_slip()))
    assert len(reader.pages) == 1
    box = reader.pages[0].mediabox
    assert float(box.width) == pytest.approx(A5_POINTS[0], abs=0.5)
    assert float(box.height) == pytest.approx(A5_POINTS[1], abs=0.5)


@pytest.mark.parametrize("typology_count", [0, 2, 12])
def test_roll_is_80mm_wide_and_as_long_as_its_content(typology_count):
    warnings = [(f"类型{i}", "请注意核实对方身份。" * 3) for i in range(typology_count)]
    reader = read(build_slip(sample_slip(warnings=warnings), paper="roll80"))
    assert len(reader.pages) == 1
    page = reader.pages[0]
    assert float(page.mediabox.width) == pytest.approx(80 * mm, abs=0.5)
    # The last line (teller id) sits just above the 6 mm bottom margin: no wasted paper.
    assert 6 * mm - 1 <= lowest_text_y(page) <= 6 * mm + 12


def test_roll_grows_with_the_number_of_warnings():
    def height(count):
        slip = sample_slip(warnings=[("类型", "提示" * 40)] * count)
        return float(read(build_slip(slip, paper="roll80")).pages[0].mediabox.height)

    assert height(1) < height(4) < height(8)


def test_many_typologies_flow_to_numbered_pages_on_a5():
    warnings = [(f"诈骗类型{i}", f"第{i}条提示：" + "转账前请与家人商量。" * 6) for i in range(15)]
    pdf = build_slip(sample_slip(warnings=warnings))
    reader = read(pdf)
    assert len(reader.pages) >= 2
    text = text_of(pdf)
    assert f"第1页/共{len(reader.pages)}页" in text
    assert "第14条提示" in text and "客户签名" in text


def test_one_page_slip_has_no_page_number():
    assert "第1页" not in text_of(build_slip(sample_slip()))


ODD_SLIP = dict(
    bank_name="银" * 200,
    branch_name="<script>alert(1)</script> & <b>支行",
    printed_at=None,
    reference="R&D<1>",
    amount=None,
    payee_masked=None,
    payee_name_masked="𠀀龘彧😀" * 50,
    other_region=None,
    level_label=None,
    warnings=[("<b>冒充", "a & b < c > d"), ("😀", None), (None, ""), ("刷单", "x" * 5000)] * 5,
    teller_id=None,
    customer_name_masked="A" * 300,
)


@pytest.mark.parametrize("paper", ["a5", "roll80"])
def test_odd_data_never_breaks_the_slip(paper):
    pdf = build_slip(sample_slip(**ODD_SLIP), paper=paper)
    text = text_of(pdf)
    assert "<script>alert(1)</script>&<b>支行" in text  # printed literally, not as markup
    assert "R&D<1>" in text
    assert "a&b<c>d" in text
    assert "龘彧" in text
    assert "□" in text  # 𠀀 and 😀 are not in the font: replaced, not dropped silently
    assert "😀" not in text
    assert "编号：R&D<1>" in text
    assert "是否异地未知" in text


def test_wrong_paper_is_refused():
    with pytest.raises(ValueError, match="paper"):
        build_slip(sample_slip(), paper="letter")


def test_amount_variants():
    text = text_of(build_slip(sample_slip(amount=Decimal("1234567.5"))))
    assert "¥1,234,567.50" in text


@pytest.mark.skipif(not shutil.which("pdftoppm"), reason="poppler-utils (pdftoppm) not installed")
@pytest.mark.parametrize("paper", ["a5", "roll80"])
def test_poppler_renders_the_slip_without_complaint(tmp_path, paper):
    path = tmp_path / "slip.pdf"
    path.write_bytes(build_slip(sample_slip(), paper=paper))
    result = subprocess.run(
        ["pdftoppm", "-png", "-r", "40", str(path), str(tmp_path / "page")],
        capture_output=True, text=True, check=True,
    )
    assert result.stderr == ""
    assert (tmp_path / "page-1.png").stat().st_size > 1000


def test_concurrent_builds_give_the_same_bytes_as_sequential_ones():
    """The web server prints from several threads; subsets and QR caches are shared."""
    from concurrent.futures import ThreadPoolExecutor

    slips = [sample_slip(reference=f"TG-THREAD-{i}", customer_name_masked=name)
             for i, name in enumerate("欧阳司马上官诸葛")]
    expected = [build_slip(slip, invariant=True) for slip in slips]
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda slip: build_slip(slip, invariant=True), slips * 3))
    assert results == expected * 3
