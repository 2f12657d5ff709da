package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rrguard/rrguard/test/load"
)

func TestFlagsMapToOptions(t *testing.T) {
	token := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(token, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		args    []string
		check   func(*Options) bool
		wantErr string
	}{
		{"defaults are the storm scenario", []string{"--gateway-url=http://gw:8080", "--namespace=rrguard-system"}, func(o *Options) bool {
			return o.Load.URL == "http://gw:8080" && o.Namespace == "rrguard-system" && o.Load.Scenario == load.Storm &&
				o.Load.Signals == 5000 && o.Load.Concurrency == 64 && o.Verify && o.Timeout == 30*time.Minute
		}, ""},
		{"every flag", []string{"--gateway-url=http://gw", "--scenario=mixed", "--signals=100", "--concurrency=8", "--fingerprints=7",
			"--zipf-s=1.5", "--seed=9", "--target-namespace=prod", "--target-prefix=run2", "--kubeconfig=/k", "--namespace=ns",
			"--timeout=1m", "--token-file=" + token}, func(o *Options) bool {
			l := o.Load
			return l.Scenario == load.Mixed && l.Signals == 100 && l.Concurrency == 8 && l.Fingerprints == 7 && l.ZipfS == 1.5 &&
				l.Seed == 9 && l.TargetNamespace == "prod" && l.TargetPrefix == "run2" && o.Kubeconfig == "/k" &&
				o.Namespace == "ns" && o.Timeout == time.Minute && l.Token == "s3cret"
		}, ""},
		{"no check needs no namespace", []string{"--gateway-url=http://gw", "--verify=false"}, func(o *Options) bool { return !o.Verify }, ""},
		{"the URL is required", []string{"--namespace=ns"}, nil, "--gateway-url is required"},
		{"the check needs the namespace", []string{"--gateway-url=http://gw"}, nil, "--namespace is required"},
		{"an unknown scenario", []string{"--gateway-url=http://gw", "--namespace=ns", "--scenario=hurricane"}, nil, `unknown scenario "hurricane"`},
		{"a missing token file", []string{"--gateway-url=http://gw", "--namespace=ns", "--token-file=/nonexistent"}, nil, "read --token-file"},
		{"stray arguments", []string{"--gateway-url=http://gw", "--namespace=ns", "extra"}, nil, "unexpected arguments"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got *Options
			err := run(context.Background(), tc.args, io.Discard, func(_ context.Context, o *Options, _ io.Writer) error {
				got = o
				return nil
			})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tc.check(got) {
				t.Errorf("options %+v", got)
			}
		})
	}
}
