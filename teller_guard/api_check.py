"""Check a JSON value against the API's schema (api_schema.py) and name every offending field.

A small interpreter of exactly the JSON Schema 2020-12 keywords the generated schema uses
(type, enum, properties, additionalProperties: false, required, items, uniqueItems,
minLength, maxLength, pattern, minimum, maximum, exclusiveMinimum), so the served document
is the validator: tests/test_api_contract.py compares its verdicts with the jsonschema
package's. Each problem carries the dotted field, a reason code (api_schema.FIELD_CODES) and a
Chinese message.
"""

from __future__ import annotations

import difflib
import json
import math
import re
from dataclasses import dataclass

from .api_schema import PATTERN_MESSAGES

MAX_PROBLEMS = 50  # a body of 10,000 unknown keys gets a readable answer, not 10,000 lines
MAX_KEY_SHOWN = 64  # an unknown key is echoed in the field name, cut to this length
TYPE_WORDS = {"string": "文字", "integer": "整数", "number": "数字", "boolean": "是/否（true/false）",
              "object": "对象", "array": "列表"}
ENUM_LISTED = 12  # longer enums (the provinces) are not spelled out in the message


@dataclass(frozen=True)
class Problem:
    field: str
    code: str
    message: str


def _json_type(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "integer" if math.isfinite(value) and value.is_integer() else "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "unknown"


def _type_ok(actual: str, allowed: list[str]) -> bool:
    return actual in allowed or (actual == "integer" and "number" in allowed)


PLAIN_KEY = re.compile(r"[A-Za-z0-9_$-]+")


def child(path: str, key) -> str:
    """facts.amount, observations[0]; a key that would not read as one name (empty, with a
    dot or a space) is quoted: answers["a.b"], $[""]."""
    if isinstance(key, int):
        return f"{path}[{key}]"
    shown = key if len(key) <= MAX_KEY_SHOWN else key[:MAX_KEY_SHOWN] + "…"
    if not PLAIN_KEY.fullmatch(shown):
        return f"{path}[{json.dumps(shown, ensure_ascii=False)}]"
    return shown if path == "$" else f"{path}.{shown}"


class Checker:
    def __init__(self):
        self.problems: list[Problem] = []

    def add(self, field: str, code: str, message: str) -> None:
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(Problem(field, code, message))

    def value(self, schema: dict, value, path: str):
        """Check `value`; returns it with integral floats in integer fields made ints."""
        allowed = schema.get("type")
        if allowed is not None:
            allowed = [allowed] if isinstance(allowed, str) else allowed
            actual = _json_type(value)
            if not _type_ok(actual, allowed):
                words = "或".join(TYPE_WORDS[kind] for kind in allowed if kind != "null")
                self.add(path, "wrong_type", f"应为{words}")
                return value
            if actual == "null":
                return value
            if actual == "integer" and isinstance(value, float) and "integer" in allowed \
                    and "number" not in allowed:
                value = int(value)
        if "enum" in schema and value not in schema["enum"]:
            self._enum(schema["enum"], path)
            return value
        if isinstance(value, str):
            self._string(schema, value, path)
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            self._number(schema, value, path)
        elif isinstance(value, dict):
            return self._object(schema, value, path)
        elif isinstance(value, list):
            return self._array(schema, value, path)
        return value

    def _enum(self, allowed: list, path: str) -> None:
        values = [item for item in allowed if item is not None]
        if len(values) <= ENUM_LISTED:
            self.add(path, "invalid_value", f"取值无效，应为 {'/'.join(map(str, values))} 之一")
        else:
            self.add(path, "invalid_value", "取值无效，请从允许的取值中选择（见接口文档）")

    def _string(self, schema: dict, value: str, path: str) -> None:
        if len(value) < schema.get("minLength", 0):
            self.add(path, "required", "不能为空")
        elif len(value) > schema.get("maxLength", math.inf):
            self.add(path, "too_long", f"过长（最多 {schema['maxLength']} 字）")
        elif "pattern" in schema and not re.fullmatch(schema["pattern"][1:-1], value):
            # Patterns are anchored ^…$; fullmatch, unlike search, refuses a trailing
            # newline as ECMA-262 (the regex dialect JSON Schema names) does.
            self.add(path, "invalid_value", PATTERN_MESSAGES.get(path, "格式不正确（含无法识别的控制字符）"))

    def _number(self, schema: dict, value, path: str) -> None:
        low, high = schema.get("minimum"), schema.get("maximum")
        above = schema.get("exclusiveMinimum")
        if (low is not None and value < low) or (high is not None and value > high) or \
                (above is not None and value <= above) or not math.isfinite(value):
            if above is not None:
                message = f"应大于 {above}" + (f"、不超过 {high}" if high is not None else "")
            else:
                message = f"应在 {low} 至 {high} 之间"
            self.add(path, "out_of_range", message)

    def _object(self, schema: dict, value: dict, path: str) -> dict:
        properties = schema.get("properties", {})
        result = {}
        for key, item in value.items():
            if key in properties:
                result[key] = self.value(properties[key], item, child(path, key))
            elif schema.get("additionalProperties", True) is False:
                close = difflib.get_close_matches(key, list(properties), n=1, cutoff=0.6)
                hint = f"（是否应为 {close[0]}？）" if close else ""
                self.add(child(path, key), "unknown_field", f"未知字段{hint}")
            else:
                result[key] = item
        for key in schema.get("required", ()):
            if key not in value:
                self.add(child(path, key), "required", "缺少必填字段")
        return result

    def _array(self, schema: dict, value: list, path: str) -> list:
        items = schema.get("items")
        result = [self.value(items, item, child(path, index)) if items else item
                  for index, item in enumerate(value)]
        if schema.get("uniqueItems"):
            seen = set()
            for index, item in enumerate(result):
                marker = json.dumps(item, sort_keys=True)
                if marker in seen:
                    self.add(child(path, index), "invalid_value", "与前面的项重复")
                seen.add(marker)
        return result


def check(schema: dict, value) -> tuple[list[Problem], object]:
    """(problems, the value with integral floats in integer fields turned into ints)."""
    checker = Checker()
    normalised = checker.value(schema, value, "$")
    return checker.problems, normalised
