package config_test

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/mmq/mmq/config"
)

// Secrets of 32 bytes, whose base64 ends with "=": a pair's tenant ends at
// its first "=".
const (
	deploySecret = "whsec_JjwPZZKLXhX0wwWZ1DCBgu6GhIelrQqFm3i5pHtVZrk="
	acmeSecret   = "whsec_CWFD6bNBsZaNENNY1FBJnsBwnd32FL6i6SEjAEhyUXA="
	acmeOld      = "whsec_K8VLZWZ2NdPpdBNukX4+4cCcqmtgiJoEmHimhv1IPlU="
	betaSecret   = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
)

// writeConfig writes a config file with body and returns its path.
func writeConfig(t *testing.T, body string) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(file, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return file
}

func TestTenantSecrets(t *testing.T) {
	yaml := "webhooks:\n  secret: " + deploySecret + "\n  tenant_secrets:\n    acme: \"" + acmeSecret + "|" + acmeOld + "\"\n    beta: " + betaSecret + "\n"
	tests := []struct {
		name string
		file string // config file body; empty: none
		env  string // MMQ_WEBHOOKS_TENANT_SECRETS; empty: unset
		want map[string][]string
	}{
		{name: "none", want: nil},
		{name: "yaml", file: yaml, want: map[string][]string{"acme": {acmeSecret, acmeOld}, "beta": {betaSecret}}},
		{name: "env", env: "acme=" + acmeSecret + "|" + acmeOld + ", beta=" + betaSecret,
			want: map[string][]string{"acme": {acmeSecret, acmeOld}, "beta": {betaSecret}}},
		{name: "env beats yaml", file: yaml, env: "gamma=" + acmeSecret, want: map[string][]string{"gamma": {acmeSecret}}},
		{name: "empty env", env: " , ", want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("MMQ_WEBHOOKS_SECRET", deploySecret)
			if tt.env != "" {
				t.Setenv("MMQ_WEBHOOKS_TENANT_SECRETS", tt.env)
			}
			path := ""
			if tt.file != "" {
				path = writeConfig(t, tt.file)
			}
			c, err := config.Load(path, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := c.Webhooks.SecretsByTenant(); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("SecretsByTenant() = %v, want %v", got, tt.want)
			}
		})
	}
}

// A bad tenant name, a bad secret or a malformed pair is refused, naming
// the key and the tenant but never repeating a secret.
func TestTenantSecretsRefused(t *testing.T) {
	tests := []struct {
		name   string
		file   string // config file body; empty: none
		env    string // MMQ_WEBHOOKS_TENANT_SECRETS
		secret string // MMQ_WEBHOOKS_SECRET
		want   []string
	}{
		{name: "bad tenant name", env: "acme!=" + acmeSecret, secret: deploySecret,
			want: []string{"webhooks.tenant_secrets", `tenant "acme!"`, "a-z, 0-9"}},
		{name: "bad tenant name in yaml", file: "webhooks:\n  tenant_secrets:\n    -acme: " + acmeSecret + "\n", secret: deploySecret,
			want: []string{"webhooks.tenant_secrets", `tenant "-acme"`}},
		{name: "short secret", env: "acme=whsec_c2hvcnQ=", secret: deploySecret,
			want: []string{"webhooks.tenant_secrets: tenant acme", "bad secret", "at least 24"}},
		{name: "no prefix", env: "acme=" + strings.TrimPrefix(acmeSecret, "whsec_"), secret: deploySecret,
			want: []string{"tenant acme", `must start with "whsec_"`}},
		{name: "bad previous secret", file: "webhooks:\n  tenant_secrets:\n    acme: \"" + acmeSecret + "|whsec_!!\"\n", secret: deploySecret,
			want: []string{"tenant acme", "previous secret 1", "not standard base64"}},
		{name: "empty secret", env: "acme=", secret: deploySecret, want: []string{"tenant acme", "bad secret"}},
		{name: "pair without tenant", env: "beta=" + betaSecret + "," + acmeSecret, secret: deploySecret,
			want: []string{"webhooks.tenant_secrets", "pair 2", "want tenant=whsec_"}},
		{name: "tenant twice", env: "acme=" + acmeSecret + ",acme=" + acmeOld, secret: deploySecret,
			want: []string{`tenant "acme" given twice`}},
		{name: "no deployment secret", env: "acme=" + acmeSecret,
			want: []string{"webhooks.tenant_secrets needs webhooks.secret"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("MMQ_WEBHOOKS_SECRET", tt.secret)
			if tt.env != "" {
				t.Setenv("MMQ_WEBHOOKS_TENANT_SECRETS", tt.env)
			}
			path := ""
			if tt.file != "" {
				path = writeConfig(t, tt.file)
			}
			_, err := config.Load(path, nil)
			if err == nil {
				t.Fatal("Load succeeded, want an error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			for _, s := range []string{acmeSecret, acmeOld, betaSecret, deploySecret, "c2hvcnQ"} {
				if strings.Contains(err.Error(), s) {
					t.Errorf("error %q repeats a secret", err)
				}
			}
		})
	}
}
