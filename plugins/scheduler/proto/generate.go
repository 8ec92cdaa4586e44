// Package proto is the wire protocol of out-of-process scheduler plugins:
// the generated gRPC code of scheduler.proto, and the conversions between
// its messages and the scheduler package's types.
package proto

// Regenerate after editing scheduler.proto (needs protoc, e.g. Debian's
// protobuf-compiler; the two generators are pinned as tools in go.mod):
//
//go:generate sh -c "protoc --plugin=protoc-gen-go=$(go tool -n protoc-gen-go) --plugin=protoc-gen-go-grpc=$(go tool -n protoc-gen-go-grpc) --go_out=. --go_opt=paths=source_relative --go-grpc_out=. --go-grpc_opt=paths=source_relative scheduler.proto"
