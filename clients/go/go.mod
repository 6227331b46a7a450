module apikeys/clients/go

go 1.19

require google.golang.org/protobuf v1.28.1

// No module can be downloaded where this is built: use Debian's copy
// (golang-google-protobuf-dev) and build with GOFLAGS=-mod=mod GOPROXY=off.
replace google.golang.org/protobuf => /usr/share/gocode/src/google.golang.org/protobuf
