package webhook

import (
	"strings"
	"testing"

	authenticationv1 "k8s.io/api/authentication/v1"
)

func TestCreators(t *testing.T) {
	var c Creators
	if err := c.Set("serviceaccount:kubernaut-system:gateway, user:alice,group:ops"); err != nil {
		t.Fatal(err)
	}
	if got, want := c.String(), "serviceaccount:kubernaut-system:gateway,user:alice,group:ops"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	for _, m := range []struct {
		u    authenticationv1.UserInfo
		want bool
	}{
		{authenticationv1.UserInfo{Username: "system:serviceaccount:kubernaut-system:gateway"}, true},
		{authenticationv1.UserInfo{Username: "alice"}, true},
		{authenticationv1.UserInfo{Username: "bob", Groups: []string{"system:authenticated", "ops"}}, true},
		{authenticationv1.UserInfo{Username: "system:serviceaccount:kubernaut-system:apifrontend"}, false},
		{authenticationv1.UserInfo{Username: "ops"}, false},
		{authenticationv1.UserInfo{Username: "bob", Groups: []string{"alice"}}, false},
	} {
		if got := c.Match(m.u); got != m.want {
			t.Errorf("Match(%+v) = %v, want %v", m.u, got, m.want)
		}
	}
	if (Creators{}).Match(authenticationv1.UserInfo{Username: ""}) {
		t.Error("the zero Creators matched an empty user")
	}
	for in, want := range map[string]string{
		"gateway":                 "want user:<name>",
		"user:":                   "want user:<name>",
		"serviceaccount:gateway":  "want serviceaccount:<namespace>:<name>",
		"serviceaccount::gateway": "want serviceaccount:<namespace>:<name>",
		"robot:kubernaut":         `unknown kind "robot"`,
	} {
		if err := new(Creators).Set(in); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Set(%q) = %v, want an error saying %q", in, err, want)
		}
	}
}
