// Package imagebuild reproduces the build stage of the repository's
// Dockerfile without Docker: the build context .dockerignore lets through,
// the stage's WORKDIR and COPY instructions applied to it, and its go build
// of the image's binaries. A test builds both binaries this way, and
// `make e2e-cluster` builds the binaries of its image the same way, so that
// the image a user builds, the image tested and the files it is built from
// cannot drift apart.
package imagebuild
