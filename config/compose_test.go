package config_test

import (
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/mmq/mmq/config"
)

// The docker compose file works as written: `docker compose config` cannot
// run here (no compose plugin), so this test checks what it would and what
// mmq needs of it.

type composeFile struct {
	Services map[string]composeService `yaml:"services"`
	Volumes  map[string]any            `yaml:"volumes"`
}

type composeService struct {
	Image       string            `yaml:"image"`
	Build       any               `yaml:"build"`
	Command     []string          `yaml:"command"`
	Environment map[string]string `yaml:"environment"`
	Volumes     []string          `yaml:"volumes"`
	Ports       []string          `yaml:"ports"`
	Profiles    []string          `yaml:"profiles"`
	DependsOn   any               `yaml:"depends_on"`
	Healthcheck struct {
		Test []string `yaml:"test"`
	} `yaml:"healthcheck"`
	Deploy struct {
		Replicas int `yaml:"replicas"`
	} `yaml:"deploy"`
	StopGracePeriod string `yaml:"stop_grace_period"`
}

func readYAML(t *testing.T, rel string, v any) {
	t.Helper()
	b, err := os.ReadFile(repoFile(t, rel))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", rel, err)
	}
}

// envKey returns the config key an MMQ_ variable sets, if any.
func envKey(name string) (string, bool) {
	for k := range config.Defaults {
		if "MMQ_"+strings.ToUpper(strings.ReplaceAll(k, ".", "_")) == name {
			return k, true
		}
	}
	return "", false
}

func TestComposeFile(t *testing.T) {
	var c composeFile
	readYAML(t, "docker-compose.yml", &c)

	for _, name := range []string{"redis", "api", "worker", "prometheus"} {
		if _, ok := c.Services[name]; !ok {
			t.Fatalf("no %s service", name)
		}
	}
	redis := c.Services["redis"]
	if !slices.Contains(redis.Command, "--appendonly") || redis.Command[slices.Index(redis.Command, "--appendonly")+1] != "yes" {
		t.Errorf("redis runs without AOF: %v", redis.Command)
	}
	if len(redis.Healthcheck.Test) == 0 || !slices.Contains(redis.Healthcheck.Test, "ping") {
		t.Errorf("redis healthcheck %v", redis.Healthcheck.Test)
	}

	api, worker := c.Services["api"], c.Services["worker"]
	if !slices.Equal(api.Command, []string{"api"}) || !slices.Equal(worker.Command, []string{"worker"}) {
		t.Errorf("commands: api %v, worker %v", api.Command, worker.Command)
	}
	if worker.Deploy.Replicas < 2 {
		t.Errorf("worker replicas %d, want several", worker.Deploy.Replicas)
	}
	if len(worker.Ports) > 0 {
		t.Errorf("worker publishes ports %v, which replicas cannot share", worker.Ports)
	}
	if worker.StopGracePeriod == "" {
		t.Error("worker has no stop_grace_period longer than worker.shutdown_timeout")
	}
	for name, s := range map[string]composeService{"api": api, "worker": worker} {
		deps, ok := s.DependsOn.(map[string]any)
		if !ok || deps["redis"] == nil || deps["redis"].(map[string]any)["condition"] != "service_healthy" {
			t.Errorf("%s does not wait for a healthy redis: %v", name, s.DependsOn)
		}
		if s.Environment["MMQ_REDIS_ADDR"] != "redis:6379" {
			t.Errorf("%s: MMQ_REDIS_ADDR %q", name, s.Environment["MMQ_REDIS_ADDR"])
		}
		// The uploads the API writes are the inputs the workers read.
		dir := s.Environment["MMQ_BLOBS_DIR"]
		mounted := false
		for _, v := range s.Volumes {
			vol, path, _ := strings.Cut(v, ":")
			if _, named := c.Volumes[vol]; named && vol == "blobs" && strings.HasPrefix(dir, path) {
				mounted = true
			}
		}
		if !mounted {
			t.Errorf("%s: blobs dir %q is not on the shared blobs volume (%v)", name, dir, s.Volumes)
		}
		for v := range s.Environment {
			if _, ok := envKey(v); !ok {
				t.Errorf("%s sets %s, which is no config key", name, v)
			}
		}
	}
	if api.Environment["MMQ_AUTH_KEYS"] == "" || !slices.Contains(api.Ports, "8080:8080") {
		t.Errorf("api: auth keys %q, ports %v", api.Environment["MMQ_AUTH_KEYS"], api.Ports)
	}
	if !slices.Contains(c.Services["prometheus"].Profiles, "metrics") {
		t.Error("prometheus is not behind the metrics profile")
	}

	// Prometheus scrapes the ports the services serve metrics on.
	var prom struct {
		ScrapeConfigs []struct {
			JobName       string `yaml:"job_name"`
			StaticConfigs []struct {
				Targets []string `yaml:"targets"`
			} `yaml:"static_configs"`
			DNSSDConfigs []struct {
				Names []string `yaml:"names"`
				Port  int      `yaml:"port"`
			} `yaml:"dns_sd_configs"`
		} `yaml:"scrape_configs"`
	}
	readYAML(t, "deploy/prometheus.yml", &prom)
	var targets []string
	for _, sc := range prom.ScrapeConfigs {
		for _, s := range sc.StaticConfigs {
			targets = append(targets, s.Targets...)
		}
		for _, d := range sc.DNSSDConfigs {
			for _, n := range d.Names {
				targets = append(targets, n+":"+strconv.Itoa(d.Port))
			}
		}
	}
	_, apiPort, _ := strings.Cut(api.Environment["MMQ_API_ADDR"], ":")
	_, workerPort, _ := strings.Cut(worker.Environment["MMQ_METRICS_ADDR"], ":")
	for _, want := range []string{"api:" + apiPort, "worker:" + workerPort} {
		if !slices.Contains(targets, want) {
			t.Errorf("prometheus scrapes %v, not %s", targets, want)
		}
	}
}
