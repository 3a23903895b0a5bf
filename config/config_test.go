package config_test

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
	"github.com/spf13/viper"

	"github.com/mmq/mmq/config"
)

func repoFile(t *testing.T, rel string) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", rel)
}

// The documented config file and the built-in defaults must list the same
// keys with the same values, so the documentation cannot drift.
func TestDocumentedConfigMatchesDefaults(t *testing.T) {
	v := viper.New()
	v.SetConfigFile(repoFile(t, "configs/config.yaml"))
	if err := v.ReadInConfig(); err != nil {
		t.Fatal(err)
	}
	for _, k := range v.AllKeys() {
		d, ok := config.Defaults[k]
		if !ok {
			t.Errorf("configs/config.yaml has %s, which has no default", k)
			continue
		}
		if got, want := fmt.Sprint(v.Get(k)), fmt.Sprint(d); got != want {
			t.Errorf("%s: config.yaml says %q, default is %q", k, got, want)
		}
	}
	// Counting AllKeys would not do: it leaves out an empty map
	// (webhooks.tenant_secrets: {}), which IsSet sees.
	var missing []string
	for k := range config.Defaults {
		if !v.IsSet(k) {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		t.Errorf("configs/config.yaml lacks keys: %v", missing)
	}
}

func TestPrecedence(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "c.yaml")
	if err := os.WriteFile(file, []byte("api:\n  addr: 127.0.0.1:1111\nworker:\n  page_concurrency: 2\n  concurrency: 7\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("MMQ_WORKER_PAGE_CONCURRENCY", "5")
	t.Setenv("MMQ_REDIS_ADDR", "10.0.0.1:6379")
	t.Setenv("MMQ_WORKER_TASK_CHECK_INTERVAL", "250ms")
	fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
	fs.String("redis-addr", "", "")
	fs.String("api-addr", "", "")
	if err := fs.Parse([]string{"--redis-addr", "10.0.0.2:6379"}); err != nil {
		t.Fatal(err)
	}
	c, err := config.Load(file, fs)
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"file beats default", c.Worker.Concurrency, 7},
		{"env beats file", c.Worker.PageConcurrency, 5},
		{"flag beats env", c.Redis.Addr, "10.0.0.2:6379"},
		{"unset flag does not beat file", c.API.Addr, "127.0.0.1:1111"},
		{"env duration", c.Worker.TaskCheckInterval, 250 * time.Millisecond},
		{"default", c.Limits.MaxPages, 2000},
	}
	for _, ck := range checks {
		if ck.got != ck.want {
			t.Errorf("%s: got %v, want %v", ck.name, ck.got, ck.want)
		}
	}
}

func TestValidate(t *testing.T) {
	t.Setenv("MMQ_WORKER_PAGE_CONCURRENCY", "64")
	t.Setenv("MMQ_LOG_FORMAT", "xml")
	t.Setenv("MMQ_WORKER_GC_PERCENT", "0")
	t.Setenv("MMQ_MONITORING_PATH", "monitoring")
	_, err := config.Load("", nil)
	if err == nil {
		t.Fatal("want an error for page_concurrency > process_page_concurrency, a bad log format, gc_percent 0 and a relative monitoring.path")
	}
	for _, want := range []string{"page_concurrency", "log.format", "worker.gc_percent", "monitoring.path"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %s", err, want)
		}
	}
}
