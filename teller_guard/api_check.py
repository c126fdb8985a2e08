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
TYPE_ORDER = {kind: index for index, kind in enumerate(
    ("string", "integer", "number", "boolean", "object", "array", "null"))}
ENUM_LISTED = 12  # longer enums (the provinces) are not spelled out in the message


@dataclass(frozen=True)
class Problem:
    field: str
    code: str
    message: str


_TYPES = {str: "string", bool: "boolean", int: "integer", list: "array", dict: "object",
          type(None): "null"}


def _json_type(value) -> str:
    kind = _TYPES.get(type(value))
    if kind is not None:
        return kind
    if isinstance(value, float):
        return "integer" if math.isfinite(value) and value.is_integer() else "number"
    return "unknown"


PLAIN_KEY = re.compile(r"[A-Za-z0-9_$-]+")


def field_name(path: tuple) -> str:
    """facts.amount, observations[0]; a key that would not read as one name (empty, with a
    dot or a space) is quoted: answers["a.b"], $[""]."""
    name = "$"
    for key in path:
        if isinstance(key, int):
            name = f"{name}[{key}]"
            continue
        shown = key if len(key) <= MAX_KEY_SHOWN else key[:MAX_KEY_SHOWN] + "…"
        if not PLAIN_KEY.fullmatch(shown):
            name = f"{name}[{json.dumps(shown, ensure_ascii=False)}]"
        else:
            name = shown if name == "$" else f"{name}.{shown}"
    return name


class Node:
    """One schema, compiled once: sets, compiled patterns and child nodes instead of dict
    look-ups on every request (the API checks every body)."""

    __slots__ = ("types", "enum", "enum_list", "min_length", "max_length", "pattern",
                 "pattern_message", "minimum", "maximum", "above", "properties", "names",
                 "closed", "required", "items", "unique")

    def __init__(self, schema: dict, path: tuple = ()):
        types = schema.get("type")
        self.types = None if types is None else frozenset(
            [types] if isinstance(types, str) else types)
        self.enum_list = schema.get("enum")
        self.enum = None if self.enum_list is None else frozenset(self.enum_list)
        self.min_length = schema.get("minLength", 0)
        self.max_length = schema.get("maxLength")
        pattern = schema.get("pattern")
        # Patterns are anchored ^…$; fullmatch of the inside, unlike search, refuses a trailing
        # newline as ECMA-262 (the regex dialect JSON Schema names) does.
        self.pattern = re.compile(pattern[1:-1]) if pattern else None
        self.pattern_message = PATTERN_MESSAGES.get(field_name(path), "格式不正确（含无法识别的控制字符）")
        self.minimum = schema.get("minimum")
        self.maximum = schema.get("maximum")
        self.above = schema.get("exclusiveMinimum")
        self.properties = {name: Node(child, (*path, name))
                           for name, child in schema.get("properties", {}).items()}
        self.names = list(self.properties)
        self.closed = schema.get("additionalProperties", True) is False
        self.required = tuple(schema.get("required", ()))
        self.items = Node(schema["items"], (*path, 0)) if "items" in schema else None
        self.unique = bool(schema.get("uniqueItems"))


class Checker:
    def __init__(self):
        self.problems: list[Problem] = []

    def add(self, path: tuple, code: str, message: str) -> None:
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(Problem(field_name(path), code, message))

    def value(self, node: Node, value, path: tuple):
        """Check `value`; returns it with integral floats in integer fields made ints."""
        actual = _json_type(value)
        allowed = node.types
        if allowed is not None:
            if actual not in allowed and not (actual == "integer" and "number" in allowed):
                words = "或".join(TYPE_WORDS[kind] for kind in sorted(allowed, key=TYPE_ORDER.get)
                                 if kind != "null")
                self.add(path, "wrong_type", f"应为{words}")
                return value
            if actual == "null":
                return value
            if actual == "integer" and type(value) is float and "number" not in allowed:
                value = int(value)
        if node.enum is not None and value not in node.enum:
            self._enum(node.enum_list, path)
            return value
        if actual == "string":
            self._string(node, value, path)
        elif actual in ("integer", "number"):
            self._number(node, value, path)
        elif actual == "object":
            return self._object(node, value, path)
        elif actual == "array":
            return self._array(node, value, path)
        return value

    def _enum(self, allowed: list, path: tuple) -> None:
        values = [item for item in allowed if item is not None]
        if len(values) <= ENUM_LISTED:
            self.add(path, "invalid_value", f"取值无效，应为 {'/'.join(map(str, values))} 之一")
        else:
            self.add(path, "invalid_value", "取值无效，请从允许的取值中选择（见接口文档）")

    def _string(self, node: Node, value: str, path: tuple) -> None:
        if len(value) < node.min_length:
            self.add(path, "required", "不能为空")
        elif node.max_length is not None and len(value) > node.max_length:
            self.add(path, "too_long", f"过长（最多 {node.max_length} 字）")
        elif node.pattern is not None and not node.pattern.fullmatch(value):
            self.add(path, "invalid_value", node.pattern_message)

    def _number(self, node: Node, value, path: tuple) -> None:
        low, high, above = node.minimum, node.maximum, node.above
        if (low is not None and value < low) or (high is not None and value > high) or \
                (above is not None and value <= above) or not math.isfinite(value):
            if above is not None:
                message = f"应大于 {above}" + (f"、不超过 {high}" if high is not None else "")
            else:
                message = f"应在 {low} 至 {high} 之间"
            self.add(path, "out_of_range", message)

    def _object(self, node: Node, value: dict, path: tuple) -> dict:
        properties = node.properties
        result = {}
        for key, item in value.items():
            child = properties.get(key)
            if child is not None:
                result[key] = self.value(child, item, (*path, key))
            elif node.closed:
                close = difflib.get_close_matches(key, node.names, n=1, cutoff=0.6)
                hint = f"（是否应为 {close[0]}？）" if close else ""
                self.add((*path, key), "unknown_field", f"未知字段{hint}")
            else:
                result[key] = item
        for key in node.required:
            if key not in value:
                self.add((*path, key), "required", "缺少必填字段")
        return result

    def _array(self, node: Node, value: list, path: tuple) -> list:
        items = node.items
        result = [self.value(items, item, (*path, index)) if items else item
                  for index, item in enumerate(value)]
        if node.unique:
            seen = set()
            for index, item in enumerate(result):
                marker = json.dumps(item, sort_keys=True)
                if marker in seen:
                    self.add((*path, index), "invalid_value", "与前面的项重复")
                seen.add(marker)
        return result


def check(schema: dict | Node, value) -> tuple[list[Problem], object]:
    """(problems, the value with integral floats in integer fields turned into ints)."""
    node = schema if isinstance(schema, Node) else Node(schema)
    checker = Checker()
    normalised = checker.value(node, value, ())
    return checker.problems, normalised
