// Command rrguard-scan runs rrguard's scan once, on demand: it lists every
// RemediationRequest in pages, reports the fingerprints with more than one
// active request (a table, or JSON with -o json), adopts the unclaimed
// active ones as the webhook's leader does (not with --dry-run), and reports
// the stale claims the janitor will remove. It exits 0 when it finds no
// duplicate, 1 when it finds some, and 2 when it cannot scan.
//
// Installed on PATH as kubectl-rrguard_scan it is also a kubectl plugin:
// `kubectl rrguard-scan -n <namespace>`. It only wires flags to package
// scan.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/rrguard/rrguard/dedup"
	"github.com/rrguard/rrguard/internal/kube"
	"github.com/rrguard/rrguard/scan"
)

// The exit codes.
const (
	exitClean      = 0
	exitDuplicates = 1
	exitError      = 2
)

// now is the scan's clock; tests fix it.
var now = time.Now

func main() {
	os.Exit(run(ctrl.SetupSignalHandler(), os.Args[1:], os.Stdout, os.Stderr))
}

// options are the command's flags.
type options struct {
	kubeconfig, context, namespace, output string
	dryRun                                 bool
	pageSize                               int64
	claimGrace, claimRetention             time.Duration
}

func parse(args []string, stderr io.Writer) (*options, error) {
	o := &options{output: "table", pageSize: scan.DefaultPageSize, claimGrace: dedup.DefaultClaimGrace, claimRetention: dedup.DefaultClaimRetention}
	fs := flag.NewFlagSet("rrguard-scan", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage: rrguard-scan [flags]   (or, as a kubectl plugin: kubectl rrguard-scan [flags])

Lists every RemediationRequest in pages, reports the fingerprints with more
than one active request, gives each unclaimed active fingerprint's claim to
its oldest active request (not with --dry-run), and reports the stale claims
the webhook's janitor will remove. It never changes a RemediationRequest.

Exit status: 0 no duplicates, 1 duplicates found, 2 the scan failed.

Flags:
`)
		fs.PrintDefaults()
	}
	fs.StringVar(&o.kubeconfig, "kubeconfig", "", "Path to a kubeconfig; default $KUBECONFIG, ~/.kube/config or in-cluster.")
	fs.StringVar(&o.context, "context", "", "The kubeconfig context to use; default the current one.")
	fs.StringVar(&o.namespace, "namespace", "", "Scan this namespace only; default all namespaces.")
	fs.StringVar(&o.namespace, "n", "", "Short for --namespace.")
	fs.StringVar(&o.output, "o", o.output, "Output format: table or json.")
	fs.BoolVar(&o.dryRun, "dry-run", false, "Write nothing: report the claims the scan would adopt instead of adopting them.")
	fs.Int64Var(&o.pageSize, "page-size", o.pageSize, "How many objects one List page asks for.")
	fs.DurationVar(&o.claimGrace, "claim-grace", o.claimGrace, "The webhook's --claim-grace: how long a claim whose holder is not stored counts as in flight.")
	fs.DurationVar(&o.claimRetention, "claim-retention", o.claimRetention, "The webhook's --claim-retention, to say when the janitor removes a stale claim.")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	var errs []error
	if fs.NArg() > 0 {
		errs = append(errs, fmt.Errorf("unexpected arguments: %v", fs.Args()))
	}
	if o.output != "table" && o.output != "json" {
		errs = append(errs, fmt.Errorf("-o %s: want table or json", o.output))
	}
	if o.pageSize <= 0 {
		errs = append(errs, fmt.Errorf("--page-size=%d: must be positive", o.pageSize))
	}
	if o.claimGrace <= 0 || o.claimRetention <= 0 {
		errs = append(errs, errors.New("--claim-grace and --claim-retention must be positive"))
	}
	return o, errors.Join(errs...)
}

// run scans as args say, writes the report to stdout and returns the exit
// code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := parse(args, stderr)
	switch {
	case errors.Is(err, flag.ErrHelp):
		return exitClean
	case err != nil:
		fmt.Fprintln(stderr, "rrguard-scan:", err)
		return exitError
	}
	cfg, err := kube.LoadConfigContext(o.kubeconfig, o.context)
	if err != nil {
		fmt.Fprintln(stderr, "rrguard-scan:", err)
		return exitError
	}
	c, err := client.New(cfg, client.Options{Scheme: kube.NewScheme()})
	if err != nil {
		fmt.Fprintln(stderr, "rrguard-scan: new client:", err)
		return exitError
	}
	sc := &scan.Scanner{
		Reader: c, Namespace: o.namespace, PageSize: o.pageSize, ClaimRetention: o.claimRetention, Now: now,
		Adopter: dedup.NewGuard(c, c, dedup.GuardOptions{Grace: o.claimGrace}),
	}
	rep, scanErr := sc.Scan(ctx, o.dryRun)
	if rep != nil {
		write := rep.WriteTable
		if o.output == "json" {
			write = rep.WriteJSON
		}
		if err := write(stdout); err != nil {
			scanErr = errors.Join(scanErr, fmt.Errorf("write report: %w", err))
		}
	}
	switch {
	case scanErr != nil:
		fmt.Fprintln(stderr, "rrguard-scan:", scanErr)
		return exitError
	case len(rep.Duplicates) > 0:
		return exitDuplicates
	}
	return exitClean
}
