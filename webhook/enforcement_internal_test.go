package webhook

import (
	"context"
	"encoding/json"
	"flag"
	"strings"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"
)

func TestParseEnforcement(t *testing.T) {
	for in, want := range map[string]Enforcement{"deny": EnforcementDeny, "warn": EnforcementWarn, "": "", "Warn": "", "audit": "", " deny": ""} {
		got, err := ParseEnforcement(in)
		if got != want || (err == nil) != (want != "") {
			t.Errorf("ParseEnforcement(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	e := EnforcementDeny
	fs.Var(&e, "enforcement", "")
	if err := fs.Parse([]string{"--enforcement=dryrun"}); err == nil || e != EnforcementDeny {
		t.Errorf("--enforcement=dryrun: %v, mode %q; want refused, deny kept", err, e)
	}
}

// Requests the API server never sends (it validates the object first) are
// still warned, not denied, in warn mode: every denial reason is.
func TestWarnModeWarnsForInvalidRequests(t *testing.T) {
	for name, req := range map[string]admissionv1.AdmissionRequest{
		"malformed fingerprint": review(admissionv1.Create, "", rrJSON(t, "a", "uid-a", "ABC", ""), nil),
		"not JSON":              review(admissionv1.Create, "", []byte("{"), nil),
	} {
		t.Run(name, func(t *testing.T) {
			h, audit := newTestHandler(t, Options{Enforcement: EnforcementWarn})
			resp := h.Handle(context.Background(), admission.Request{AdmissionRequest: req})
			if !resp.Allowed || len(resp.Warnings) != 1 || !strings.Contains(resp.Warnings[0], "enforcement=warn") {
				t.Fatalf("response = %+v, want allowed with one warning", resp)
			}
			var rec map[string]any
			if err := json.Unmarshal([]byte(strings.TrimSpace(audit.String())), &rec); err != nil {
				t.Fatalf("want one JSON audit line: %q", audit)
			}
			if rec["decision"] != "warned" || rec["reason"] != "Invalid" || !strings.Contains(rec["message"].(string), strings.TrimPrefix(resp.Warnings[0], "rrguard would deny this (enforcement=warn): ")) {
				t.Errorf("audit = %v, want warned Invalid with the denial's message", rec)
			}
		})
	}
}
