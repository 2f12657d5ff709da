// This module is the image builder of `make e2e-cluster`: it packs static
// binaries into an OCI image tarball that `ctr images import` loads, with no
// Docker engine and no registry. A module of its own so that the main go.mod
// never sees go-containerregistry.
module github.com/rrguard/rrguard/tools/ociimage

go 1.26.0

require github.com/google/go-containerregistry v0.22.1

require (
	github.com/klauspost/compress v1.19.2 // indirect
	github.com/opencontainers/go-digest v1.0.0 // indirect
	github.com/opencontainers/image-spec v1.1.1 // indirect
)
