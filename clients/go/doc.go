// Package apikeys is the Go client of apikeysd, the API-key management service.
//
// apikeysd speaks its own binary RPC protocol over TCP (docs/PROTOCOL.md), not HTTP/2
// gRPC: stubs from protoc-gen-go-grpc cannot talk to it. This package implements the
// protocol; its messages are protoc-gen-go's (package apikeysv1) and its typed methods
// are generated from the service definitions in proto/ (services.pb.go).
//
//	c, err := apikeys.New("127.0.0.1:7420", apikeys.WithDefaults(apikeys.Service(credential)))
//	if err != nil { ... }
//	defer c.Close()
//	resp, err := c.Verification().Verify(ctx, &apikeysv1.VerifyRequest{Secret: key})
//	if apikeys.CodeOf(err) == apikeys.Unauthenticated { ... }
package apikeys
