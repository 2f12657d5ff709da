package signal

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/rrguard/rrguard/dedup"
)

// checkItem holds every Item to the parser's contract: exactly one of
// Signal, Ignored and Err; errors wrap ErrInvalid; a signal can be
// fingerprinted and its payload is JSON.
func checkItem(t *testing.T, i int, it Item) {
	t.Helper()
	set := 0
	if it.Signal != nil {
		set++
	}
	if it.Ignored != "" {
		set++
	}
	if it.Err != nil {
		set++
	}
	if set != 1 {
		t.Fatalf("item %d = %+v: want exactly one of Signal, Ignored, Err", i, it)
	}
	if it.Err != nil && !errors.Is(it.Err, ErrInvalid) {
		t.Fatalf("item %d error %v does not wrap ErrInvalid", i, it.Err)
	}
	if s := it.Signal; s != nil {
		fp, err := s.Fingerprint()
		if err != nil || !dedup.ValidFingerprint(fp) {
			t.Fatalf("item %d signal %+v has no valid fingerprint: %q %v", i, s, fp, err)
		}
		if s.Name == "" {
			t.Fatalf("item %d signal has no name", i)
		}
		if !json.Valid(s.Payload) {
			t.Fatalf("item %d payload is not JSON: %q", i, s.Payload)
		}
	}
}

func FuzzParseAlertmanager(f *testing.F) {
	f.Add([]byte(`{"version":"4","alerts":[{"status":"firing","labels":{"alertname":"A","deployment":"d","namespace":"n"}}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		am, err := ParseAlertmanager(body)
		if err != nil {
			if !errors.Is(err, ErrInvalid) || am != nil {
				t.Fatalf("ParseAlertmanager = %v, %v: an error must wrap ErrInvalid and come alone", am, err)
			}
			return
		}
		if am.Message.Version != AlertmanagerVersion || len(am.Items) == 0 || len(am.Items) != len(am.Message.Alerts) {
			t.Fatalf("accepted version %q with %d items for %d alerts", am.Message.Version, len(am.Items), len(am.Message.Alerts))
		}
		for i, it := range am.Items {
			checkItem(t, i, it)
		}
	})
}

func FuzzParseKubernetesEvent(f *testing.F) {
	f.Add([]byte(`{"apiVersion":"v1","kind":"Event","type":"Warning","reason":"BackOff","involvedObject":{"kind":"Pod","namespace":"p","name":"x"}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		it, err := ParseKubernetesEvent(body)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			return
		}
		checkItem(t, 0, it)
	})
}
