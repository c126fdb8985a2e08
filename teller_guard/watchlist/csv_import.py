"""Importing a watchlist file, all or nothing.

Two file kinds are recognised by their first row:

* account lists: `账号, 来源, 日期, 备注, 到期日` (header optional; only the account is
  required; files from before the expiry column had the first four). A 来源 naming a category
  (公安, 反诈中心, 同业, 本行…, CATEGORY_NAMES) gives the entry that category, any other source
  the category chosen for the whole file;
* this tool's own high-risk payee export (`payee_hash, payee_masked, sessions, last_seen,
  key_id`), accepted only when its key_id matches this instance's PII key.

Files may be UTF-8 (with or without BOM), GBK/GB18030 (Excel on Chinese Windows) or UTF-16
(Excel "Unicode text"); comma or tab separated. Every problem is reported in Chinese with its
line number. With any bad line nothing is imported unless `skip_errors` is set.

No Flask here: the web page, the benchmark and scripts call `import_file`.
"""

from __future__ import annotations

import csv
import functools
import io
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date

from .. import audit, clock, labels, pii, storage
from ..storage import watchlist as watchlist_store
from . import store

ACCOUNT_COLUMNS = 5  # account, source, date, note, expiry
DEFAULT_CATEGORY = "police"  # most lists a branch imports come from the police
HASHES_CATEGORY = "own"  # the high-risk payee export holds this bank's own findings

MAX_SOURCE_CHARS = 64
MAX_NOTE_CHARS = 200
HASH_HEADERS = {"payee_hash", "account_hash"}
HEX_HASH = re.compile(r"[0-9a-f]{64}")
MASKED_ACCOUNT = re.compile(r"[0-9* ]{2,40}")
DATE_FORMS = (
    re.compile(r"(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?"),
    re.compile(r"(\d{4})(\d{2})(\d{2})"),
)
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _category_key(text: str) -> str:
    return re.sub(r"[\s/、]", "", text).lower()


# A 来源 cell that names a category, written the ways lists write it.
CATEGORY_NAMES = {_category_key(name): code for name, code in (
    *((code, code) for code in labels.WATCHLIST_CATEGORIES),
    *((label, code) for code, label in labels.WATCHLIST_CATEGORIES.items()),
    ("公安", "police"), ("反诈中心", "police"), ("公安局", "police"), ("同业通报", "peer"),
    ("本行", "own"))}


class UploadRejected(Exception):
    """The file as a whole cannot be read; the message is Chinese and shown as is."""


@dataclass(frozen=True)
class LineError:
    line: int
    reason: str


@dataclass(frozen=True, slots=True)
class ListedAccount:
    line: int
    account_hash: str
    account_masked: str
    source: str
    listed_on: str  # YYYY-MM-DD or ""
    note: str
    category: str = DEFAULT_CATEGORY  # labels.WATCHLIST_CATEGORIES
    expires_on: str | None = None  # YYYY-MM-DD, the last day the entry matches

    def stored(self) -> tuple:
        """The tuple storage.watchlist.add_entries takes."""
        return (self.account_hash, self.account_masked, self.source, self.listed_on, self.note,
                self.category, self.expires_on)


@dataclass(frozen=True)
class ParsedFile:
    kind: str  # accounts | hashes
    data_lines: int  # non-blank lines after the header
    entries: list[ListedAccount] = field(default_factory=list)  # first occurrence of each account
    duplicates: list[tuple[int, int]] = field(default_factory=list)  # (line, line first seen)
    errors: list[LineError] = field(default_factory=list)


@dataclass(frozen=True)
class ImportReport:
    imported: bool
    kind: str
    data_lines: int
    added: int
    already_listed: int
    duplicates: list[tuple[int, int]]
    errors: list[LineError]
    import_id: int | None = None
    renewed: int = 0  # entries listed again: expired, proposed, or expiring sooner

    @property
    def valid(self) -> int:
        return self.data_lines - len(self.duplicates) - len(self.errors)


# --- decoding ---------------------------------------------------------------------------------

def decode(data: bytes) -> str:
    """Bytes of an upload -> text, or UploadRejected saying what the file seems to be."""
    if not data or not data.strip():
        raise UploadRejected("文件为空，请选择含有账号的 CSV 文件。")
    if data.startswith(b"PK\x03\x04"):
        raise UploadRejected("这是 Excel 工作簿（.xlsx）或压缩文件，不是 CSV。"
                             "请在 Excel 中选择“另存为 → CSV（逗号分隔）”后再上传。")
    if data.startswith(b"\xd0\xcf\x11\xe0"):
        raise UploadRejected("这是旧版 Excel 文件（.xls），不是 CSV。"
                             "请在 Excel 中选择“另存为 → CSV（逗号分隔）”后再上传。")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError:
            raise UploadRejected("文件编码无法识别（UTF-16 内容损坏）。请另存为 UTF-8 或 GBK 编码的 CSV。") from None
    elif b"\x00" in data:
        raise UploadRejected("这不是文本文件（可能是图片、PDF 或其他二进制文件）。请上传 CSV 文件。")
    else:
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            try:
                text = data.decode("gb18030")  # a superset of GBK: Excel's "CSV" on Chinese Windows
            except UnicodeDecodeError:
                raise UploadRejected("文件编码无法识别。请另存为 UTF-8 或 GBK 编码的 CSV 文件后再上传。") from None
    text = text.removeprefix("\ufeff")
    if len(CONTROL_CHARACTERS.findall(text[:65536])) > 8:
        raise UploadRejected("这不是文本文件（含有大量控制字符）。请上传 CSV 文件。")
    return text


def _delimiter(text: str) -> str:
    first_line = next((line for line in text.splitlines() if line.strip()), "")
    return "\t" if "\t" in first_line and "," not in first_line else ","


# --- parsing ----------------------------------------------------------------------------------

def _clean(cell: str) -> str:
    return CONTROL_CHARACTERS.sub("", unicodedata.normalize("NFKC", cell)).strip()


@functools.lru_cache(maxsize=4096)  # big files repeat the same few dates and sources
def parse_date(raw: str, today: date) -> str:
    """'2024-03-05', '2024/3/5', '2024.3.5', '20240305', '2024年3月5日' (time ignored) -> ISO."""
    text = _clean(raw).split(" ")[0].split("T")[0]
    if not text:
        return ""
    for form in DATE_FORMS:
        match = form.fullmatch(text)
        if match:
            try:
                value = date(*(int(part) for part in match.groups()))
            except ValueError:
                break
            if value > today:
                raise ValueError("日期晚于今天，请核对")
            return value.isoformat()
    raise ValueError("日期无法识别，请写成 2024-03-05 的格式")


@functools.lru_cache(maxsize=4096)
def parse_expiry(raw: str, listed_on: str = "") -> str | None:
    """到期日, the last day the entry matches: the forms parse_date takes, any day not before
    `listed_on`; None when empty (the entry does not expire)."""
    text = _clean(raw).split(" ")[0].split("T")[0]
    if not text:
        return None
    for form in DATE_FORMS:
        match = form.fullmatch(text)
        if match:
            try:
                value = date(*(int(part) for part in match.groups())).isoformat()
            except ValueError:
                break
            if listed_on and value < listed_on:
                raise ValueError("到期日早于列入日期，请核对")
            return value
    raise ValueError("到期日无法识别，请写成 2025-12-31 的格式")


def category_of(source: str, default: str) -> str:
    """The category a 来源 text names, else `default`."""
    return CATEGORY_NAMES.get(_category_key(source), default)


@functools.lru_cache(maxsize=4096)
def _text_column(raw: str, label: str, limit: int) -> str:
    text = pii.mask_numbers_in_text(_clean(raw))
    if len(text) > limit:
        raise ValueError(f"{label}超过 {limit} 个字")
    return text


def _is_header(cells: list[str]) -> bool:
    first = _clean(cells[0]).lower() if cells else ""
    return first in HASH_HEADERS or not any(char.isdigit() for char in first)


def parse(text: str, pii_key: bytes, today: date, default_source: str = "",
          default_category: str = DEFAULT_CATEGORY) -> ParsedFile:
    """Validate every line; hash and mask the accounts (plain numbers are not kept)."""
    rows = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text),
                      strict=True)
    kind = "accounts"
    fingerprint = store.key_fingerprint(pii_key)
    default_source = _text_column(default_source, "默认来源", MAX_SOURCE_CHARS)
    entries: list[ListedAccount] = []
    duplicates: list[tuple[int, int]] = []
    errors: list[LineError] = []
    first_line_of: dict[str, int] = {}
    data_lines = 0
    header_seen = False
    last_line = 0
    try:
        for cells in rows:
            line, spans_lines = last_line + 1, rows.line_num > last_line + 1
            last_line = rows.line_num
            while cells and not cells[-1].strip():  # Excel pads rows with empty cells
                cells.pop()
            if not cells:
                continue
            if not header_seen:
                header_seen = True
                if _is_header(cells):
                    if _clean(cells[0]).lower() in HASH_HEADERS:
                        kind = "hashes"
                    continue
            data_lines += 1
            try:
                if spans_lines:
                    raise ValueError(f"这一条记录跨到了第 {last_line} 行（单元格内有换行），可能是引号不配对")
                if kind == "hashes":
                    entry = _hash_line(line, cells, fingerprint, today, default_source)
                else:
                    entry = _account_line(line, cells, pii_key, today, default_source,
                                          default_category)
            except ValueError as problem:
                errors.append(LineError(line, str(problem)))
                continue
            first = first_line_of.setdefault(entry.account_hash, line)
            if first != line:
                duplicates.append((line, first))
            else:
                entries.append(entry)
    except csv.Error:
        raise UploadRejected(f"第 {rows.line_num} 行的引号不配对，文件无法按 CSV 读取。"
                             "请用 Excel 或记事本检查后重新保存。") from None
    if kind == "hashes" and any("密钥标识" in error.reason for error in errors):
        raise UploadRejected("该导出文件来自另一个实例（密钥标识不同），其中的哈希在本网点无法匹配任何账号。"
                             "请改用含完整账号的名单文件，或让各网点使用同一个哈希密钥文件（PII_KEY_FILE）。")
    return ParsedFile(kind, data_lines, entries, duplicates, errors)


def _account_line(line: int, cells: list[str], pii_key: bytes, today: date,
                  default_source: str, default_category: str) -> ListedAccount:
    if len(cells) > ACCOUNT_COLUMNS:
        raise ValueError("列数超过 5 列（账号、来源、日期、备注、到期日）；备注中的逗号请用英文引号括起")
    cells = cells + [""] * (ACCOUNT_COLUMNS - len(cells))
    try:
        digits = store.account_digits(cells[0])
    except store.AccountError as problem:
        raise ValueError(str(problem)) from None
    source = _text_column(cells[1], "来源", MAX_SOURCE_CHARS) or default_source
    listed_on = parse_date(cells[2], today)
    note = _text_column(cells[3], "备注", MAX_NOTE_CHARS)
    expires_on = parse_expiry(cells[4], listed_on)
    return ListedAccount(line, store.account_hash(pii_key, digits), pii.mask_account(digits),
                         source, listed_on, note, category_of(source, default_category),
                         expires_on)


FORM_FIELDS = ("account", "category", "source", "listed_on", "expires_on", "note")


def typed_account(pii_key: bytes, today: date, values: dict[str, str]
                  ) -> tuple[ListedAccount | None, dict[str, str]]:
    """One account typed into the add form (FORM_FIELDS) checked as an import line is: the
    entry, or None and a Chinese message per field."""
    errors: dict[str, str] = {}

    def attempt(name: str, check):
        try:
            return check(values.get(name) or "")
        except ValueError as problem:  # store.AccountError is one
            errors[name] = str(problem)
            return None

    digits = attempt("account", store.account_digits)
    category = values.get("category") or ""
    if category not in labels.WATCHLIST_CATEGORIES:
        errors["category"] = "请选择来源类别"
    source = attempt("source", lambda raw: _text_column(raw, "来源说明", MAX_SOURCE_CHARS))
    listed_on = attempt("listed_on", lambda raw: parse_date(raw, today) or today.isoformat())
    expires_on = attempt("expires_on", lambda raw: parse_expiry(raw, listed_on or ""))
    note = attempt("note", lambda raw: _text_column(raw, "备注", MAX_NOTE_CHARS))
    if errors:
        return None, errors
    return ListedAccount(0, store.account_hash(pii_key, digits), pii.mask_account(digits),
                         source, listed_on, note, category, expires_on), {}


def _hash_line(line: int, cells: list[str], fingerprint: str, today: date,
               default_source: str) -> ListedAccount:
    if len(cells) != len(store.EXPORT_HEADER):
        raise ValueError("列数应为 5 列（payee_hash, payee_masked, sessions, last_seen, key_id）")
    payee_hash, masked, sessions, last_seen, key_id = (_clean(cell) for cell in cells)
    if key_id != fingerprint:
        raise ValueError("密钥标识（key_id）与本实例不符")
    if not HEX_HASH.fullmatch(payee_hash):
        raise ValueError("payee_hash 应为 64 位十六进制")
    if not MASKED_ACCOUNT.fullmatch(masked) or "*" not in masked:
        raise ValueError("payee_masked 应为脱敏账号，如 6222 **** **** 1234")
    if not re.fullmatch(r"[0-9]{1,9}", sessions):
        raise ValueError("sessions 应为整数")
    listed_on = parse_date(last_seen, today)
    return ListedAccount(line, payee_hash, masked, default_source or "高风险收款账户导出",
                         listed_on, f"问询 {int(sessions)} 次", HASHES_CATEGORY)


# --- importing --------------------------------------------------------------------------------

def import_file(db, *, pii_key: bytes, ledger_key: bytes, data: bytes, actor_id: int | None,
                default_source: str = "", skip_errors: bool = False,
                today: date | None = None,
                default_category: str = DEFAULT_CATEGORY) -> ImportReport:
    """Decode, validate and store a file in one write transaction; logs watchlist.imported.

    Returns a report with imported=False (and nothing written) when a line is wrong and
    skip_errors is off. Raises UploadRejected when the file as a whole is unusable.
    """
    today = today or clock.today()
    if default_category not in labels.WATCHLIST_CATEGORIES:
        raise UploadRejected("请从列表中选择来源类别。")
    parsed = parse(decode(data), pii_key, today, default_source, default_category)
    if not parsed.data_lines:
        raise UploadRejected("文件中没有数据行（只有标题行或空行）。")
    report = ImportReport(False, parsed.kind, parsed.data_lines, 0, 0, parsed.duplicates,
                          parsed.errors)
    if (parsed.errors and not skip_errors) or not parsed.entries:
        return report
    added_at = audit.now_iso()
    # Sorted by hash, the primary-key index is filled in order: much faster for big files.
    entries = sorted(parsed.entries, key=lambda entry: entry.account_hash)
    with storage.transaction(db):
        import_id = watchlist_store.start_import(db, added_at, actor_id, parsed.kind, parsed.data_lines)
        added = watchlist_store.add_entries(db, import_id, added_at,
                                            (entry.stored() for entry in entries))
        # Listed again by this file: an expired entry, a proposal, or a sooner expiry.
        renewed = watchlist_store.renew_entries(db, import_id, added_at, today.isoformat(),
                                                (entry.stored() for entry in entries))
        counts = {"added": added, "renewed": renewed,
                  "already_listed": len(entries) - added - renewed,
                  "duplicates": len(parsed.duplicates), "skipped_errors": len(parsed.errors)}
        watchlist_store.finish_import(db, import_id, **counts)
        audit.append(db, ledger_key, audit.AuditEvent(
            "watchlist.imported", actor_id=actor_id,
            data={"import_id": import_id, "kind": parsed.kind, "data_lines": parsed.data_lines,
                  **counts}))
    return ImportReport(True, parsed.kind, parsed.data_lines, counts["added"],
                        counts["already_listed"], parsed.duplicates, parsed.errors, import_id,
                        renewed)
