#!/usr/bin/env bash
# The APIKeysClient library product must not pull in the server's dependencies (issue 12):
# a service that only verifies keys builds the wire layer, NIO, TLS and service-lifecycle.
# Fails when the target's dependency closure in Package.swift reaches a server-side one.
set -euo pipefail
cd "$(dirname "$0")/.."
swift package describe --type json 2>/dev/null | python3 -c '
import json, sys
targets = {t["name"]: t for t in json.load(sys.stdin)["targets"]}
seen, products, todo = set(), set(), ["APIKeysClient"]
while todo:
    target = targets[todo.pop()]
    products.update(target.get("product_dependencies", []))
    for dep in target.get("target_dependencies", []):
        if dep not in seen:
            seen.add(dep)
            todo.append(dep)
forbidden = {"APIKeysServer", "APIKeysStorage", "APIKeysPostgres", "APIKeysDomain", "GRDB", "PostgresNIO",
             "Hummingbird", "Prometheus", "Metrics", "Mustache"}
found = sorted((seen | products) & forbidden)
if found:
    sys.exit("check-client-deps: APIKeysClient depends on server-side " + ", ".join(found))
print("check-client-deps: APIKeysClient builds " + ", ".join(sorted(seen | products)))
'
