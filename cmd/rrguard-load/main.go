// Command rrguard-load drives a running rrguard gateway over HTTP with a
// fixed number of signals at a fixed concurrency (scenarios storm, spread,
// mixed), then checks on the API server that every fingerprint has exactly
// one RemediationRequest whose occurrenceCount equals the signals answered
// 2xx. It prints signals/s, latency percentiles and, where the kubeconfig
// may read the API server's /metrics, API requests per signal. It only
// wires flags to package test/load.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/rrguard/rrguard/internal/command"
	"github.com/rrguard/rrguard/internal/kube"
	"github.com/rrguard/rrguard/test/load"
)

func main() {
	command.Main("rrguard-load", func(ctx context.Context, args []string) error { return run(ctx, args, os.Stdout, drive) })
}

// Options are the command-line options.
type Options struct {
	// Load is what to send where.
	Load load.Options
	// TokenFile, when set, holds the bearer token (Load.Token).
	TokenFile string
	// Kubeconfig reaches the API server for the check; empty means
	// in-cluster, $KUBECONFIG or ~/.kube/config.
	Kubeconfig string
	// Namespace is where the gateway creates RemediationRequests. Required
	// unless Verify is false.
	Namespace string
	// Verify checks the outcome on the API server. Defaults to true.
	Verify bool
	// Timeout bounds the whole run. Defaults to 30m.
	Timeout time.Duration
}

// NewOptions returns the defaults.
func NewOptions() *Options {
	return &Options{
		Load: load.Options{
			Scenario: load.Storm, Signals: 5000, Concurrency: 64, Fingerprints: 50, ZipfS: 1.1, Seed: 1,
			TargetNamespace: "load", TargetPrefix: "app",
		},
		Verify:  true,
		Timeout: 30 * time.Minute,
	}
}

// BindFlags binds o's fields to flags on fs, with o's values as defaults.
func (o *Options) BindFlags(fs *flag.FlagSet) {
	fs.StringVar(&o.Load.URL, "gateway-url", o.Load.URL, "The gateway's signal API base URL, e.g. http://127.0.0.1:8080. Required.")
	fs.StringVar(&o.TokenFile, "token-file", o.TokenFile, "A file holding the bearer token to post with (the gateway's --auth=tokenreview).")
	fs.Func("scenario", fmt.Sprintf("The load shape: %s (1 fingerprint), %s (one per signal), %s (--fingerprints, Zipf). Default %q.", load.Storm, load.Spread, load.Mixed, o.Load.Scenario),
		func(s string) error { o.Load.Scenario = load.Scenario(s); return nil })
	fs.IntVar(&o.Load.Signals, "signals", o.Load.Signals, "How many signals to send.")
	fs.IntVar(&o.Load.Concurrency, "concurrency", o.Load.Concurrency, "How many requests are in flight at once.")
	fs.IntVar(&o.Load.Fingerprints, "fingerprints", o.Load.Fingerprints, "How many fingerprints the mixed scenario spreads over.")
	fs.Float64Var(&o.Load.ZipfS, "zipf-s", o.Load.ZipfS, "The mixed scenario's Zipf exponent (> 1).")
	fs.Uint64Var(&o.Load.Seed, "seed", o.Load.Seed, "The mixed scenario's random seed.")
	fs.StringVar(&o.Load.TargetNamespace, "target-namespace", o.Load.TargetNamespace, "The namespace label of the alerts (not where RemediationRequests go).")
	fs.StringVar(&o.Load.TargetPrefix, "target-prefix", o.Load.TargetPrefix, "The alerts' Deployments are <prefix>-<n>; change it between runs to start from new incidents.")
	fs.StringVar(&o.Kubeconfig, "kubeconfig", o.Kubeconfig, "A kubeconfig for the check; empty: in-cluster, $KUBECONFIG, ~/.kube/config.")
	fs.StringVar(&o.Namespace, "namespace", o.Namespace, "Where the gateway creates RemediationRequests (its --namespace). Required with --verify.")
	fs.BoolVar(&o.Verify, "verify", o.Verify, "Check on the API server: one RemediationRequest per fingerprint, occurrenceCount sum = 2xx answers.")
	fs.DurationVar(&o.Timeout, "timeout", o.Timeout, "Bounds the whole run.")
}

func parseOptions(args []string) (*Options, error) {
	o := NewOptions()
	fs := flag.NewFlagSet("rrguard-load", flag.ContinueOnError)
	o.BindFlags(fs)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %v", fs.Args())
	}
	if o.Load.URL == "" {
		return nil, errors.New("--gateway-url is required")
	}
	if o.Verify && o.Namespace == "" {
		return nil, errors.New("--namespace is required with --verify (the default); pass --verify=false to skip the check")
	}
	if o.TokenFile != "" {
		b, err := os.ReadFile(o.TokenFile)
		if err != nil {
			return nil, fmt.Errorf("read --token-file: %w", err)
		}
		o.Load.Token = strings.TrimSpace(string(b))
	}
	if _, _, err := load.Plan(o.Load); err != nil {
		return nil, err
	}
	return o, nil
}

// run parses args and hands the options to drive; tests hand in their own
// drive to check the mapping.
func run(ctx context.Context, args []string, out io.Writer, drive func(context.Context, *Options, io.Writer) error) error {
	o, err := parseOptions(args)
	if err != nil {
		return err
	}
	return drive(ctx, o, out)
}

// drive sends the load, then checks and reports.
func drive(ctx context.Context, o *Options, out io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	var cfg *rest.Config
	var before float64
	var metricsErr error
	if o.Verify {
		var err error
		cfg, err = kube.LoadConfig(o.Kubeconfig)
		if err != nil {
			return err
		}
		before, metricsErr = load.APIServerRequests(ctx, cfg)
	}
	res, err := load.Run(ctx, o.Load)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "%s %s\n", o.Load.Scenario, res.Summary())
	if !o.Verify {
		return nil
	}
	if metricsErr == nil {
		after, err := load.APIServerRequests(ctx, cfg)
		if err == nil {
			fmt.Fprintf(out, "API server requests: %.0f, %.3f per signal (apiserver_request_total, every client)\n", after-before, (after-before)/float64(len(res.Responses)))
		}
	} else {
		fmt.Fprintf(out, "API requests per signal: not measured (%v)\n", metricsErr)
	}
	c, err := client.New(cfg, client.Options{Scheme: kube.NewScheme()})
	if err != nil {
		return fmt.Errorf("new client: %w", err)
	}
	check, err := load.Verify(ctx, c, o.Namespace, res.Counted())
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "check: %s\n", check)
	return check.Err()
}
