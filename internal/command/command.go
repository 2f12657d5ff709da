package command

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"

	ctrl "sigs.k8s.io/controller-runtime"
)

// Options is what a binary's flags fill in.
type Options interface {
	// BindFlags registers the options' flags on fs.
	BindFlags(fs *flag.FlagSet)
	// Validate says what is wrong with the options once parsed.
	Validate() error
}

// Parse parses args into o with a flag set called name, refusing positional
// arguments, and validates the result. --help is flag.ErrHelp.
func Parse(name string, o Options, args []string) error {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	o.BindFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	return o.Validate()
}

// Run parses args into o and hands it to serve. Tests hand in their own
// serve to check how flags map to options without serving.
func Run[O Options](ctx context.Context, name string, o O, args []string, serve func(context.Context, O) error) error {
	if err := Parse(name, o, args); err != nil {
		return err
	}
	return serve(ctx, o)
}

// Main runs run with the process's arguments and a context cancelled on
// SIGTERM or SIGINT, then exits: 0 when it returns nil or the user asked
// for --help, 1 with the error on stderr otherwise.
func Main(name string, run func(ctx context.Context, args []string) error) {
	if err := run(ctrl.SetupSignalHandler(), os.Args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, name+":", err)
		os.Exit(1)
	}
}
