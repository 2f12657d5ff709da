// Command ociimage writes an image tarball (the `docker save` layout, which
// `ctr images import` reads) holding static binaries on an empty base: no
// shell, no package manager, only /etc/passwd and /etc/group naming root and
// nonroot (65532) and a world-writable /tmp, as distroless/static has.
//
//	ociimage -o rrguard.tar -ref rrguard.local/rrguard:e2e -user 65532:65532 \
//	    -entrypoint /webhook bin/webhook=/webhook bin/gateway=/gateway
package main

import (
	"archive/tar"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// epoch is every file's modification time, so that the same binaries give
// the same image digest.
var epoch = time.Unix(0, 0).UTC()

const (
	passwd = "root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n"
	group  = "root:x:0:\nnonroot:x:65532:\n"
)

func main() {
	out := flag.String("o", "", "the image tarball to write")
	ref := flag.String("ref", "", "the image reference it is tagged with, e.g. rrguard.local/rrguard:e2e")
	user := flag.String("user", "65532:65532", "the user the image runs as")
	entrypoint := flag.String("entrypoint", "", "the entrypoint, comma-separated (default: none)")
	flag.Usage = func() {
		fmt.Fprintln(flag.CommandLine.Output(), "usage: ociimage -o FILE -ref REF [flags] SRC=DST...")
		flag.PrintDefaults()
	}
	flag.Parse()
	if err := run(*out, *ref, *user, *entrypoint, flag.Args()); err != nil {
		fmt.Fprintln(os.Stderr, "ociimage:", err)
		os.Exit(1)
	}
}

func run(out, ref, user, entrypoint string, files []string) error {
	if out == "" || ref == "" || len(files) == 0 {
		return errors.New("-o, -ref and at least one SRC=DST are required")
	}
	tag, err := name.NewTag(ref)
	if err != nil {
		return fmt.Errorf("parse -ref %q: %w", ref, err)
	}
	layer, err := buildLayer(files)
	if err != nil {
		return err
	}
	cfg := v1.Config{User: user, Env: []string{"PATH=/"}}
	if entrypoint != "" {
		cfg.Entrypoint = strings.Split(entrypoint, ",")
	}
	// The config first, then the layer: AppendLayers records the layer's
	// diff ID in the config's rootfs.
	img, err := mutate.ConfigFile(empty.Image, &v1.ConfigFile{
		Architecture: "amd64", OS: "linux", Created: v1.Time{Time: epoch}, Config: cfg,
		RootFS: v1.RootFS{Type: "layers"},
	})
	if err != nil {
		return fmt.Errorf("set config: %w", err)
	}
	if img, err = mutate.AppendLayers(img, layer); err != nil {
		return fmt.Errorf("append layer: %w", err)
	}
	if err := tarball.WriteToFile(out, tag, img); err != nil {
		return fmt.Errorf("write %s: %w", out, err)
	}
	return nil
}

// buildLayer packs the base files and each SRC=DST into one uncompressed tar.
func buildLayer(files []string) (v1.Layer, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	base := []struct {
		hdr  tar.Header
		body string
	}{
		{tar.Header{Name: "etc/", Typeflag: tar.TypeDir, Mode: 0o755}, ""},
		{tar.Header{Name: "etc/passwd", Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(passwd))}, passwd},
		{tar.Header{Name: "etc/group", Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(group))}, group},
		{tar.Header{Name: "tmp/", Typeflag: tar.TypeDir, Mode: 0o1777}, ""},
		{tar.Header{Name: "home/nonroot/", Typeflag: tar.TypeDir, Mode: 0o700, Uid: 65532, Gid: 65532}, ""},
	}
	for _, f := range base {
		h := f.hdr
		h.ModTime = epoch
		if err := tw.WriteHeader(&h); err != nil {
			return nil, fmt.Errorf("tar %s: %w", h.Name, err)
		}
		if _, err := io.WriteString(tw, f.body); err != nil {
			return nil, fmt.Errorf("tar %s: %w", h.Name, err)
		}
	}
	for _, spec := range files {
		if err := addFile(tw, spec); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("close tar: %w", err)
	}
	data := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(data)), nil
	})
}

// addFile adds SRC=DST as an executable file at DST (its parent folders must
// be / or among the base folders).
func addFile(tw *tar.Writer, spec string) error {
	src, dst, ok := strings.Cut(spec, "=")
	if !ok || src == "" || !strings.HasPrefix(dst, "/") {
		return fmt.Errorf("file %q: want SRC=/DST", spec)
	}
	data, err := os.ReadFile(src)
	if err != nil {
		return fmt.Errorf("read %s: %w", src, err)
	}
	hdr := &tar.Header{Name: strings.TrimPrefix(dst, "/"), Typeflag: tar.TypeReg, Mode: 0o755,
		Size: int64(len(data)), ModTime: epoch}
	if err := tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("tar %s: %w", dst, err)
	}
	if _, err := tw.Write(data); err != nil {
		return fmt.Errorf("tar %s: %w", dst, err)
	}
	return nil
}
