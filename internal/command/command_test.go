package command

import (
	"context"
	"errors"
	"flag"
	"strings"
	"testing"
)

type testOptions struct{ name string }

func (o *testOptions) BindFlags(fs *flag.FlagSet) { fs.StringVar(&o.name, "name", "", "a name") }

func (o *testOptions) Validate() error {
	if o.name == "" {
		return errors.New("--name is required")
	}
	return nil
}

func TestRunParsesValidatesThenServes(t *testing.T) {
	for _, tc := range []struct {
		args      []string
		wantName  string
		wantErr   string
		wantHelp  bool
		wantServe bool
	}{
		{args: []string{"--name=a"}, wantName: "a", wantServe: true},
		{args: []string{}, wantErr: "--name is required"},
		{args: []string{"--name=a", "extra"}, wantErr: "unexpected arguments: [extra]"},
		{args: []string{"--bogus"}, wantErr: "bogus"},
		{args: []string{"--help"}, wantHelp: true},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var served *testOptions
			err := Run(context.Background(), "test", &testOptions{}, tc.args, func(_ context.Context, o *testOptions) error {
				served = o
				return nil
			})
			switch {
			case tc.wantHelp:
				if !errors.Is(err, flag.ErrHelp) {
					t.Fatalf("Run(%v) = %v, want flag.ErrHelp", tc.args, err)
				}
			case tc.wantErr != "":
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Run(%v) = %v, want an error mentioning %q", tc.args, err, tc.wantErr)
				}
			case err != nil:
				t.Fatalf("Run(%v) = %v", tc.args, err)
			}
			if (served != nil) != tc.wantServe {
				t.Fatalf("Run(%v) served = %v, want %v", tc.args, served != nil, tc.wantServe)
			}
			if served != nil && served.name != tc.wantName {
				t.Errorf("served name = %q, want %q", served.name, tc.wantName)
			}
		})
	}
}
