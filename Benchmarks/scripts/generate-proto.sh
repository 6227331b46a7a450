#!/usr/bin/env bash
# Generates the Swift code of the gRPC peer and the swift-protobuf side of the codec
# benchmark from proto/apikeys/v1/{frame,verification}.proto. Run once; the output is
# committed. Uses apt's protoc and the two plugins built from the pinned packages
# (never the GRPCProtobufGenerator build plugin, which compiles protoc from source).
set -euo pipefail
cd "$(dirname "$0")/.."            # Benchmarks/
root=..
command -v protoc >/dev/null || apt-get install -y -qq protobuf-compiler >/dev/null
swift build --product protoc-gen-swift
swift build --product protoc-gen-grpc-swift-2
bin=$(swift build --show-bin-path)

messages=Sources/BenchMessages
service=Sources/BenchGRPCService
rm -f "$messages"/*.pb.swift "$service"/*.grpc.swift
protoc --plugin=protoc-gen-swift="$bin/protoc-gen-swift" \
  --swift_out="$messages" --swift_opt=Visibility=Public,FileNaming=DropPath \
  -I "$root/proto" apikeys/v1/frame.proto apikeys/v1/verification.proto
protoc --plugin=protoc-gen-grpc-swift-2="$bin/protoc-gen-grpc-swift-2" \
  --grpc-swift-2_out="$service" --grpc-swift-2_opt=Visibility=Public,FileNaming=DropPath,Client=true,Server=true \
  -I "$root/proto" apikeys/v1/verification.proto

# The messages live in another target: the stubs import it.
sed -i 's/^import GRPCProtobuf$/import GRPCProtobuf\nimport BenchMessages/' "$service"/verification.grpc.swift
