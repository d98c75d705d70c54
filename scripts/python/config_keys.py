#!/usr/bin/env python3
"""Prints the README's table of every config key (required or its default, and what
it does) from the generated JSON Schemas in schema/, so the table follows the types:

    python3 scripts/python/config_keys.py > /tmp/keys.md   # then paste under "Every config key"

crates/embench-core/tests/config_schema.rs checks that every key is in the README.
"""
import json
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[2]


def rows(schema):
    defs = schema.get("$defs", {})

    def resolve(node):
        # Through references and choices (`anyOf: [X, null]`, a name or a mapping) to
        # the object or list they stand for.
        while True:
            if "$ref" in node:
                node = defs[node["$ref"].split("/")[-1]]
                continue
            alts = [a for k in ("anyOf", "oneOf") for a in node.get(k, []) if "$ref" in a or "items" in a]
            if not alts:
                return node
            node = alts[0]

    out = []

    def walk(node, prefix, seen):
        node = resolve(node)
        if isinstance(node.get("items"), dict):
            walk(node["items"], prefix + "[]", seen)
            return
        if isinstance(node.get("additionalProperties"), dict):
            walk(node["additionalProperties"], prefix + ".<key>", seen)
        # Tagged enums (service_time): each variant's keys, under the same prefix.
        for k in ("oneOf", "anyOf"):
            for alt in node.get(k, []):
                if "properties" in alt:
                    walk(alt, prefix, seen)
        req = set(node.get("required", []))
        for key, value in node.get("properties", {}).items():
            # The flat form of a backend's settings block: listed under the block only.
            if value.get("deprecated"):
                continue
            path = f"{prefix}.{key}" if prefix else key
            if any(p == path for p, _, _ in out):
                continue
            desc = (value.get("description") or resolve(value).get("description") or "").replace("\n", " ")
            if key in req:
                need = "required"
            elif value.get("default") is not None:
                need = "default: " + json.dumps(value["default"])
            else:
                need = "optional"
            out.append((path, need, desc.replace("|", "\\|")))
            target = resolve(value)
            if isinstance(value.get("items"), dict):
                walk(value, path, seen)
            elif id(target) not in seen:
                walk(target, path, seen | {id(target)})

    walk(schema, "", set())
    return out


def main():
    for name, title in [("benchmark-config.schema.json", "benchmark config"),
                        ("models.schema.json", "models.yaml (under models.<key>)")]:
        schema = json.loads((ROOT / "schema" / name).read_text())
        print(f"| {title} key | required / default | what |")
        print("|---|---|---|")
        for path, need, desc in rows(schema):
            print(f"| `{path}` | {need} | {desc} |")
        print()


if __name__ == "__main__":
    main()
