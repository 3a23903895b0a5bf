package webhook_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mmq/mmq/ssrf"
	"github.com/mmq/mmq/tasks"
	"github.com/mmq/mmq/webhook"
)

// Secrets of tenants: acme has its own, rotating; gamma has its own too.
const (
	acmeSecret  = "whsec_CWFD6bNBsZaNENNY1FBJnsBwnd32FL6i6SEjAEhyUXA="
	acmeOld     = "whsec_K8VLZWZ2NdPpdBNukX4+4cCcqmtgiJoEmHimhv1IPlU="
	gammaSecret = "whsec_JjwPZZKLXhX0wwWZ1DCBgu6GhIelrQqFm3i5pHtVZrk="
)

// A tenant with secrets of its own gets webhooks signed with those alone;
// one without, with the deployment's. No request verifies with a secret
// that is not its tenant's.
func TestTenantSecrets(t *testing.T) {
	t.Parallel()
	d := newDeliverer(t, webhook.Config{Secret: secretNew, PreviousSecrets: []string{secretOld},
		TenantSecrets: map[string][]string{"acme": {acmeSecret, acmeOld}, "gamma": {gammaSecret}},
		SSRF:          ssrf.Config{AllowPrivateNetworks: true}})
	all := []string{secretNew, secretOld, acmeSecret, acmeOld, gammaSecret}
	cases := []struct {
		name    string
		tenant  string
		batch   bool
		signers []string // the secrets that verify; the others must not
	}{
		{name: "job of acme", tenant: "acme", signers: []string{acmeSecret, acmeOld}},
		{name: "batch of acme", tenant: "acme", batch: true, signers: []string{acmeSecret, acmeOld}},
		{name: "job of gamma", tenant: "gamma", signers: []string{gammaSecret}},
		{name: "job of beta, no secret of its own", tenant: "beta", signers: []string{secretNew, secretOld}},
		{name: "batch of beta", tenant: "beta", batch: true, signers: []string{secretNew, secretOld}},
		{name: "job of no tenant", signers: []string{secretNew, secretOld}},
		// Tenant names are exact: no case folding, no prefix match.
		{name: "job of ACME", tenant: "ACME", signers: []string{secretNew, secretOld}},
		{name: "job of acme2", tenant: "acme2", signers: []string{secretNew, secretOld}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			srv, got := receiver(t, func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
			var p tasks.WebhookPayload
			var err error
			if c.batch {
				finished := time.Date(2026, 1, 2, 16, 0, 0, 0, time.UTC)
				p, err = tasks.BatchWebhookPayload(&tasks.Batch{ID: "b1", Tenant: c.tenant, Status: tasks.BatchCompleted, Total: 1,
					CallbackURL: srv.URL, CreatedAt: finished.Add(-time.Minute), FinishedAt: &finished})
			} else {
				j := endedJob()
				j.Tenant, j.CallbackURL = c.tenant, srv.URL
				p, err = tasks.JobWebhookPayload(j)
			}
			if err != nil {
				t.Fatal(err)
			}
			if p.Tenant != c.tenant {
				t.Fatalf("payload tenant %q, want %q", p.Tenant, c.tenant)
			}
			// Through the task, as the worker gets it.
			task, err := tasks.NewWebhookTask(p, "", tasks.WebhookTaskConfig{})
			if err != nil {
				t.Fatal(err)
			}
			if p, err = tasks.DecodeWebhookPayload(task.Payload()); err != nil {
				t.Fatal(err)
			}
			if _, err := d.Deliver(context.Background(), p); err != nil {
				t.Fatal(err)
			}
			r := <-got
			if n := len(strings.Fields(r.header.Get(webhook.HeaderSignature))); n != len(c.signers) {
				t.Errorf("%d signatures, want %d", n, len(c.signers))
			}
			for _, secret := range all {
				want := strings.Contains(strings.Join(c.signers, " "), secret)
				if err := verifyWithLibrary(t, secret, r); (err == nil) != want {
					t.Errorf("secret %s…: verify error %v, want it to verify: %v", secret[:12], err, want)
				}
			}
		})
	}
}

// New refuses a tenant whose name is not a tenant's or whose secrets do
// not do, naming the tenant, not the secret.
func TestTenantSecretsRefused(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		secrets map[string][]string
		want    error
		say     string
	}{
		{"upper case name", map[string][]string{"Acme": {acmeSecret}}, webhook.ErrBadTenant, `"Acme"`},
		{"empty name", map[string][]string{"": {acmeSecret}}, webhook.ErrBadTenant, `""`},
		{"secret as the name", map[string][]string{acmeSecret: {acmeSecret}}, webhook.ErrBadTenant, `"whsec_…"`},
		{"short secret", map[string][]string{"acme": {"whsec_c2hvcnQ="}}, webhook.ErrBadSecret, "tenant acme"},
		{"bad previous secret", map[string][]string{"acme": {acmeSecret, "whsec_c2hvcnQ="}}, webhook.ErrBadSecret, "tenant acme: previous secret 1"},
		{"no secret", map[string][]string{"acme": nil}, webhook.ErrBadSecret, "tenant acme"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			cfg := webhook.Config{Secret: secretNew, TenantSecrets: c.secrets}
			_, err := webhook.New(cfg)
			if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.say) {
				t.Fatalf("New: %v, want %v saying %s", err, c.want, c.say)
			}
			if strings.Contains(err.Error(), strings.TrimPrefix(acmeSecret, "whsec_")) {
				t.Errorf("error %q repeats a secret", err)
			}
			if verr := cfg.Validate(); verr == nil || verr.Error() != err.Error() {
				t.Errorf("Validate: %v, want New's error", verr)
			}
		})
	}
}
