// Command imagebuild builds the image's binaries as the Dockerfile's build
// stage does, from the build context .dockerignore lets through, without
// Docker (package internal/imagebuild). `make e2e-cluster` packs its image
// from what it writes:
//
//	go run ./hack/imagebuild -o bin/e2e/rrguard
package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/rrguard/rrguard/internal/imagebuild"
)

func main() {
	root := flag.String("root", ".", "the build context: the repository's root, with its Dockerfile and .dockerignore")
	out := flag.String("o", "", "the folder the binaries are written into")
	flag.Parse()
	if *out == "" || flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "usage: imagebuild -o DIR [-root DIR]")
		os.Exit(2)
	}
	if err := imagebuild.Build(context.Background(), *root, *out, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "imagebuild:", err)
		os.Exit(1)
	}
}
