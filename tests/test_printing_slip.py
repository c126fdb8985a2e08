"""The customer's warning slip: text, page sizes, one sheet whatever the case, odd data."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
from decimal import Decimal

import pypdf
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm

from teller_guard.printing import build_slip, content, qr, slip
from teller_guard.printing.fit import FITS
from teller_guard.printing.samples import sample_slip
from teller_guard.risk import default_rules

A5_POINTS = (148 * mm, 210 * mm)
SHEETS = ["a5", "a4"]


def read(pdf: bytes) -> pypdf.PdfReader:
    assert pdf.startswith(b"%PDF-")
    return pypdf.PdfReader(io.BytesIO(pdf))


def text_of(pdf: bytes) -> str:
    """All text without whitespace: CJK lines wrap anywhere, so compare without breaks."""
    return re.sub(r"\s+", "", "".join(page.extract_text() for page in read(pdf).pages))


def squeeze(value: str) -> str:
    return re.sub(r"\s+", "", value)


def text_positions(page) -> list[tuple[str, float, float]]:
    """(text, x, y) of each text drawn on the page; the pieces of one text (a piece per font
    subset, all at the text's start) are joined."""
    pieces = []

    def visitor(text, cm, tm, font_dict, font_size):
        if text.strip():
            x, y = tm[4] * cm[0] + cm[4], tm[5] * cm[3] + cm[5]
            if pieces and pieces[-1][1:] == (x, y):
                pieces[-1] = (pieces[-1][0] + text.strip(), x, y)
            else:
                pieces.append((text.strip(), x, y))

    page.extract_text(visitor_text=visitor)
    return pieces


def lowest_text_y(page) -> float:
    return min(y for _, _, y in text_positions(page))


def position_of(page, needle: str) -> tuple[float, float]:
    return next((x, y) for piece, x, y in text_positions(page) if needle in piece)


def page_count(pdf: bytes) -> int:
    return len(read(pdf).pages)


@pytest.mark.parametrize("paper", ["a5", "a4", "roll80"])
def test_slip_says_what_the_customer_must_read(paper):
    text = text_of(build_slip(sample_slip(), paper=paper))
    for expected in (
        "示例银行", "沙河支行营业部", "风险提示单", "2026年11月30日09:05", "TG-20261130-000123",
        "¥50,000.00", "6222********1234", "张*", "是否异地是",
        "冒充公检法", "凡是要求您把钱转到“安全账户”配合调查的，都是诈骗", "也可能是：虚假网络贷款",
        content.slogans_text(), content.four_nos_text(), "110", "报警电话",
        "96110", "反诈预警劝阻专线", content.WARNED_SENTENCE, "客户签名", "日期",
        "经办柜员：T0107", "尊敬的客户王*", "人民币（大写）伍万元整", "主管签字", "网点业务章",
    ):
        assert squeeze(expected) in text, expected
    # the other scam type is named, not explained: the customer reads about their own
    assert "正规贷款在放款前不会收取任何费用" not in text


def test_slip_without_typologies_prints_the_general_warning():
    text = text_of(build_slip(sample_slip(warnings=())))
    assert "防骗提示" in text
    assert squeeze(content.GENERAL_WARNING[1]) in text
    assert "冒充公检法" not in text


@pytest.mark.parametrize("stopped", [False, True])
def test_invariant_builds_are_byte_identical(stopped):
    for paper in ("a5", "a4", "roll80"):
        first = build_slip(sample_slip(stopped=stopped), paper=paper, invariant=True)
        assert build_slip(sample_slip(stopped=stopped), paper=paper, invariant=True) == first


@pytest.mark.parametrize(("paper", "size"), [("a5", A5_POINTS), ("a4", A4)])
def test_sheet_page_size_and_one_page(paper, size):
    reader = read(build_slip(sample_slip(), paper=paper))
    assert len(reader.pages) == 1
    box = reader.pages[0].mediabox
    assert float(box.width) == pytest.approx(size[0], abs=0.5)
    assert float(box.height) == pytest.approx(size[1], abs=0.5)


@pytest.mark.parametrize("typology_count", [0, 2, 12])
def test_roll_is_80mm_wide_and_as_long_as_its_content(typology_count):
    warnings = [(f"类型{i}", "请注意核实对方身份。" * 3) for i in range(typology_count)]
    reader = read(build_slip(sample_slip(warnings=warnings), paper="roll80"))
    assert len(reader.pages) == 1
    page = reader.pages[0]
    assert float(page.mediabox.width) == pytest.approx(80 * mm, abs=0.5)
    # The last text (the stamp box's label, at its foot) sits just above the 6 mm bottom
    # margin: no wasted paper.
    assert 6 * mm - 1 <= lowest_text_y(page) <= 6 * mm + 12
    assert "网点业务章" in text_positions(page)[-1][0]


def test_roll_grows_with_the_primary_warning_only():
    def height(text_length, count=1):
        warnings = [("类型", "提示" * text_length)] + [(f"其他{i}", "提示" * 200) for i in range(count)]
        return float(read(build_slip(sample_slip(warnings=warnings), paper="roll80"))
                     .pages[0].mediabox.height)

    assert height(20) < height(100) < height(300)
    # the others are named in one line, whatever their texts and number
    assert height(20, count=2) == height(20, count=8)


def test_many_typologies_fit_one_sheet_primary_first():
    warnings = [(f"诈骗类型{i}", f"第{i}条提示：" + "转账前请与家人商量。" * 6) for i in range(15)]
    for paper in SHEETS:
        pdf = build_slip(sample_slip(warnings=warnings), paper=paper)
        assert page_count(pdf) == 1
        text = text_of(pdf)
        assert "【诈骗类型0】第0条提示" in text
        assert "也可能是：诈骗类型1、诈骗类型2" in text
        assert "第1条提示" not in text and "诈骗类型3" not in text
        assert "第1页" not in text and "客户签名" in text


def longest_rule_typologies():
    """The rule file's typologies, longest slip text first (it becomes the primary)."""
    typologies = sorted(default_rules().typologies, key=lambda t: -len(t.slip_text_zh))
    # the others: those with the longest names
    others = sorted(typologies[1:], key=lambda t: -len(t.name_zh))
    return [(t.name_zh, t.slip_text_zh) for t in [typologies[0], *others]]


@pytest.mark.parametrize("paper", SHEETS)
@pytest.mark.parametrize(("level_label", "stopped"), [("高风险", False), ("极高风险", True)])
def test_longest_rule_texts_fit_one_page(paper, level_label, stopped):
    """The slip of issue 15: several typologies used to push the signature onto page 2."""
    warnings = longest_rule_typologies()
    case = sample_slip(
        bank_name="中国" + "示例" * 31, branch_name="沙河" + "支行" * 31,  # admin allows 64
        amount=Decimal("987654321.09"), payee_masked="6222 **** **** **** 1234",
        payee_name_masked="欧阳**", customer_name_masked="司马**", level_label=level_label,
        warnings=warnings, stopped=stopped,
    )
    pdf = build_slip(case, paper=paper, invariant=True)
    assert page_count(pdf) == 1
    text = text_of(pdf)
    (primary, primary_text), second, third = warnings[:3]
    assert f"【{primary}】{squeeze(primary_text)}" in text  # shortened elsewhere, not here
    assert squeeze(f"也可能是：{second[0]}、{third[0]}") in text
    assert "玖亿捌仟柒佰陆拾伍万肆仟叁佰贰拾壹元零玖分" in text
    assert "主管签字" in text and "网点业务章" in text and "客户签名" in text
    assert ("已暂停" in text) is stopped and ("真实意愿" in text) is not stopped


# Data that is wrong in every way at once: far longer than the database allows, line breaks,
# and "‰", one of the widest characters of the usual fonts (wider than a CJK character).
WIDE = "‰"
WORST = dict(
    bank_name=(WIDE * 30 + "\n") * 100,
    branch_name=WIDE * 3000,
    reference=WIDE * 500,
    amount=Decimal("999999999999.99"),
    payee_masked=WIDE * 3000,
    payee_name_masked=(WIDE + "\n") * 2000,
    other_region=None,
    level_label=WIDE * 500,
    warnings=[(f"{WIDE}{i}" * 300, (WIDE * 20 + "\n") * 300) for i in range(40)],
    teller_id=WIDE * 500,
    customer_name_masked="\n".join(WIDE * 300 for _ in range(20)),
)


@pytest.mark.parametrize("paper", SHEETS)
@pytest.mark.parametrize("stopped", [False, True])
def test_worst_data_still_fits_one_sheet(paper, stopped):
    pdf = build_slip(sample_slip(**WORST, stopped=stopped), paper=paper)
    assert page_count(pdf) == 1
    text = text_of(pdf)
    assert "客户签名" in text and "网点业务章" in text and "反诈预警劝阻专线" in text


def test_the_fitting_ladder_is_as_long_as_the_worst_data_needs():
    """The worst data goes down to the last steps on A5 (the very last one is the margin for a
    font wider than ours); a typical slip keeps the first."""
    worst = FITS.index(slip.slip_story(sample_slip(**WORST, stopped=True), "a5")[0])
    assert worst >= len(FITS) - 2
    assert slip.slip_story(sample_slip(), "a5")[0] == FITS[0]
    assert slip.slip_story(sample_slip(stopped=True), "a4")[0] == FITS[0]


field_text = st.text(st.sampled_from("银行王张支营业部\n WM1😀𠀀、。"), max_size=400)


@settings(max_examples=25, deadline=None)
@given(
    names=st.tuples(field_text, field_text, field_text, field_text, field_text),
    warnings=st.lists(st.tuples(field_text, field_text), max_size=6),
    stopped=st.booleans(),
    paper=st.sampled_from(SHEETS),
)
def test_any_slip_fits_one_sheet(names, warnings, stopped, paper):
    bank, branch, payee, customer, teller = names
    case = sample_slip(bank_name=bank, branch_name=branch, payee_name_masked=payee,
                       customer_name_masked=customer, teller_id=teller, warnings=warnings,
                       stopped=stopped)
    assert page_count(build_slip(case, paper=paper)) == 1


@pytest.mark.parametrize("paper", ["a5", "a4", "roll80"])
def test_stopped_transfer_says_what_to_do_instead_of_asking_to_confirm(paper):
    text = text_of(build_slip(sample_slip(stopped=True, level_label="极高风险"), paper=paper))
    assert "真实意愿" not in text
    for expected in (content.STOPPED_INTRO, content.STOPPED_HEADING, *content.STOPPED_STEPS,
                     content.STOPPED_SENTENCE):
        assert squeeze(expected) in text, expected
    assert "本次转账已暂停办理" in text and "96110反诈专线" in text
    assert "客户签名" in text and "主管签字" in text


@pytest.mark.parametrize("paper", ["a5", "a4", "roll80"])
def test_transfer_that_goes_ahead_asks_the_customer_to_confirm(paper):
    text = text_of(build_slip(sample_slip(), paper=paper))
    assert squeeze(content.WARNED_SENTENCE) in text
    assert "已暂停" not in text and squeeze(content.STOPPED_STEPS[0]) not in text


@pytest.mark.parametrize(("amount", "shown"), [
    (Decimal("200000"), "¥200,000.00人民币（大写）贰拾万元整"),
    (Decimal("1234.56"), "¥1,234.56人民币（大写）壹仟贰佰叁拾肆元伍角陆分"),
    (Decimal("100.05"), "¥100.05人民币（大写）壹佰元零伍分"),
])
def test_amount_in_capitals_beside_the_figures(amount, shown):
    for paper in ("a5", "a4", "roll80"):
        assert shown in text_of(build_slip(sample_slip(amount=amount), paper=paper))


def test_no_capitals_without_an_amount():
    assert "大写" not in text_of(build_slip(sample_slip(amount=None)))


@pytest.mark.parametrize("paper", SHEETS)
def test_signatures_beside_the_stamp_box(paper):
    page = read(build_slip(sample_slip(), paper=paper)).pages[0]
    customer, supervisor = position_of(page, "客户签名"), position_of(page, "主管签字")
    teller, stamp = position_of(page, "经办柜员"), position_of(page, "网点业务章")
    assert customer[1] > teller[1] > supervisor[1]  # one under the other
    assert stamp[0] > customer[0] + 100  # the stamp box is to the right of the signatures...
    assert supervisor[1] - 12 <= stamp[1] <= customer[1]  # ...at the same height
    assert "经办柜员：T0107" in text_of(build_slip(sample_slip(), paper=paper))


@pytest.mark.parametrize("paper", ["a5", "a4", "roll80"])
def test_qr_code_carries_the_reference_and_the_hotline(paper, monkeypatch):
    drawn = []
    original = slip.make_qr_flowable
    monkeypatch.setattr(slip, "make_qr_flowable",
                        lambda payload, size: drawn.append(payload) or original(payload, size))
    pdf = build_slip(sample_slip(reference="TG20261130-000001"), paper=paper)
    payload = "TG20261130-000001 反诈专线96110"
    assert set(drawn) == {payload}
    # the page draws exactly that code (the operators are cached per payload)
    page_content = read(pdf).pages[0].get_contents().get_data()
    assert qr.qr_operators(payload)[0].encode() in page_content
    assert qr.qr_operators("TG20261130-000001")[0].encode() not in page_content


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


@pytest.mark.parametrize("paper", ["a5", "a4", "roll80"])
def test_odd_data_never_breaks_the_slip(paper):
    pdf = build_slip(sample_slip(**ODD_SLIP), paper=paper)
    assert page_count(pdf) == 1
    text = text_of(pdf)
    assert "<script>alert(" in text  # printed literally, not as markup (and cut to fit)
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
@pytest.mark.parametrize("paper", ["a5", "a4", "roll80"])
@pytest.mark.parametrize("stopped", [False, True])
def test_poppler_renders_the_slip_without_complaint(tmp_path, paper, stopped):
    path = tmp_path / "slip.pdf"
    path.write_bytes(build_slip(sample_slip(stopped=stopped), paper=paper))
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


def test_wrapping_each_paragraph_and_table_once_changes_no_byte(monkeypatch):
    """The slip is measured before it is built; its paragraphs and tables keep their lines and
    sizes between the two (OnceWrapped…). Plain ones, wrapped again each time, give the same
    PDF."""
    from reportlab.platypus import Paragraph, Table

    from teller_guard.printing import layout

    cases = [sample_slip(), sample_slip(stopped=True), sample_slip(**ODD_SLIP),
             sample_slip(**WORST, stopped=True)]
    papers = ("a5", "a4", "roll80")
    once = [build_slip(case, paper=paper, invariant=True) for case in cases for paper in papers]
    monkeypatch.setattr(slip, "OnceWrappedParagraph", Paragraph)
    monkeypatch.setattr(layout, "OnceWrappedTable", Table)
    again = [build_slip(case, paper=paper, invariant=True) for case in cases for paper in papers]
    assert once == again
