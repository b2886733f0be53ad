#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Checks the admin API's answers against doc/openapi.yaml.

usage: check_openapi.py SPEC EXCHANGES.json

EXCHANGES.json is a list of {"method", "path", "status", "content_type",
"body"} that a test got from a running wsrtmpd (tests/service/test_admin.cpp).
Each answer must be documented: its path matches one of the spec's paths, the
method is an operation there, the status is one of that operation's
responses, the body is JSON of the documented media type and holds to the
response's schema (the subset of OpenAPI 3.0 schemas the spec uses: type,
nullable, enum, required, properties, additionalProperties, items, minimum,
maximum, maxLength, pattern, format date-time, $ref). A file (a documented
string of format binary, such as a recording) is checked for its media type
only (the test sends "(binary)" for its bytes); a response documented without
content must have an empty body. Prints every mismatch and exits 1 if there
was one.
"""
import json
import re
import sys

import yaml

DATE_TIME = re.compile(r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$')


def resolve(spec, node):
    while isinstance(node, dict) and '$ref' in node:
        ref = node['$ref']
        assert ref.startswith('#/'), ref
        node = spec
        for part in ref[2:].split('/'):
            node = node[part]
    return node


def validate(spec, schema, value, where, errors):
    schema = resolve(spec, schema)
    if value is None:
        if not schema.get('nullable', False):
            errors.append(f'{where}: null but not nullable')
        return
    kind = schema.get('type')
    checks = {
        'object': lambda v: isinstance(v, dict),
        'array': lambda v: isinstance(v, list),
        'string': lambda v: isinstance(v, str),
        'integer': lambda v: isinstance(v, int) and not isinstance(v, bool),
        'number': lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
        'boolean': lambda v: isinstance(v, bool),
    }
    if kind and not checks[kind](value):
        errors.append(f'{where}: {value!r} is not {kind}')
        return
    if 'enum' in schema and value not in schema['enum']:
        errors.append(f'{where}: {value!r} not in {schema["enum"]}')
    if 'minimum' in schema and value < schema['minimum']:
        errors.append(f'{where}: {value} < {schema["minimum"]}')
    if 'maximum' in schema and value > schema['maximum']:
        errors.append(f'{where}: {value} > {schema["maximum"]}')
    if kind == 'string':
        if 'maxLength' in schema and len(value) > schema['maxLength']:
            errors.append(f'{where}: longer than {schema["maxLength"]}')
        if 'pattern' in schema and not re.search(schema['pattern'], value):
            errors.append(f'{where}: {value!r} does not match {schema["pattern"]}')
        if schema.get('format') == 'date-time' and not DATE_TIME.match(value):
            errors.append(f'{where}: {value!r} is not a date-time')
    if kind == 'object':
        props = schema.get('properties', {})
        for name in schema.get('required', []):
            if name not in value:
                errors.append(f'{where}: no {name}')
        for name, item in value.items():
            if name in props:
                validate(spec, props[name], item, f'{where}.{name}', errors)
            elif schema.get('additionalProperties', True) is False:
                errors.append(f'{where}: undocumented member {name}')
    if kind == 'array' and 'items' in schema:
        for i, item in enumerate(value):
            validate(spec, schema['items'], item, f'{where}[{i}]', errors)


def path_regex(template):
    parts = re.split(r'(\{[^}]+\})', template)
    return re.compile('^' + ''.join(
        '[^/]+' if p.startswith('{') else re.escape(p) for p in parts) + '$')


def check(spec, exchange, errors):
    method = exchange['method'].lower()
    path = exchange['path'].split('?')[0]
    status = str(exchange['status'])
    label = f'{exchange["method"]} {path} -> {status}'
    matches = [t for t in spec['paths'] if path_regex(t).match(path)]
    if not matches:
        # Outside the documented paths only a not_found (or 401) error is right.
        if status not in ('401', '404'):
            errors.append(f'{label}: undocumented path')
            return
        schema = spec['components']['schemas']['Error']
    else:
        item = spec['paths'][matches[0]]
        operation = item.get(method)
        if operation is None:
            if status not in ('401', '405'):
                errors.append(f'{label}: undocumented method')
                return
            schema = spec['components']['schemas']['Error']
        else:
            response = resolve(spec, operation['responses'].get(status))
            if response is None:
                errors.append(f'{label}: status not documented')
                return
            content = response.get('content', {})
            media = exchange['content_type']
            if not content:
                if exchange['body']:
                    errors.append(f'{label}: a body where none is documented')
                return
            if media not in content:
                errors.append(f'{label}: content type {media!r} not documented')
                return
            schema = resolve(spec, content[media]['schema'])
            if schema.get('type') == 'string' and schema.get('format') == 'binary':
                return
    try:
        body = json.loads(exchange['body'])
    except ValueError as e:
        errors.append(f'{label}: not JSON ({e}): {exchange["body"][:200]!r}')
        return
    validate(spec, schema, body, label, errors)


def main():
    spec = yaml.safe_load(open(sys.argv[1]))
    exchanges = json.load(open(sys.argv[2]))
    errors = []
    for exchange in exchanges:
        check(spec, exchange, errors)
    for error in errors:
        print(error)
    print(f'{len(exchanges)} answers checked against {sys.argv[1]}, '
          f'{len(errors)} mismatches')
    return 1 if errors else 0


if __name__ == '__main__':
    sys.exit(main())
