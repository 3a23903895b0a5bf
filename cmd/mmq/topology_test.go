package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/mmq/mmq/client"
	"github.com/mmq/mmq/internal/testwait"
)

// The Sentinel and Cluster tests need those topologies, which
// scripts/redis-topologies.sh starts on loopback ports: `make
// test-topologies` runs them. Without the variables they are skipped.

// startTopologyApp runs the whole program against the Redis that env
// (name, value pairs) configures.
func startTopologyApp(t *testing.T, env ...string) (*App, string) {
	t.Helper()
	return startAppEnv(t, append([]string{"MMQ_REDIS_ADDR", "", "MMQ_REDIS_DB", "0"}, env...)...)
}

// exercise runs a job through app and reads it back every way an operator
// does: results, stats, asynqmon, metrics.
func exercise(t *testing.T, url string) {
	t.Helper()
	c := client.New(url, nil)
	job := runJob(t, c)
	rs, err := c.AllResults(context.Background(), job.ID)
	if err != nil || len(rs) != job.PagesTotal {
		t.Fatalf("results: %d of %d, %v", len(rs), job.PagesTotal, err)
	}
	st, err := c.Stats(context.Background(), time.Hour)
	if err != nil || st.Finished < 1 || st.PagesRead < job.PagesTotal {
		t.Errorf("stats: %+v, %v", st, err)
	}
	resp, err := http.Get(url + "/monitoring/api/queues")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("asynqmon queues: %d", resp.StatusCode)
	}
	mfs := scrape(t, url+"/metrics")
	if v, _ := metricValue(mfs, "asynq_tasks_processed_total", map[string]string{"queue": "default"}); v < 1 {
		t.Errorf("asynq_tasks_processed_total{queue=default} = %v", v)
	}
}

func TestRedisCluster(t *testing.T) {
	addrs := os.Getenv("MMQ_TEST_REDIS_CLUSTER")
	if addrs == "" {
		t.Skip("MMQ_TEST_REDIS_CLUSTER is not set; `make test-topologies` starts a cluster")
	}
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: strings.Split(addrs, ",")})
	defer cc.Close()
	ctx := context.Background()
	if err := cc.ForEachMaster(ctx, func(ctx context.Context, n *redis.Client) error { return n.FlushDB(ctx).Err() }); err != nil {
		t.Fatal(err)
	}
	app, url := startTopologyApp(t, "MMQ_REDIS_CLUSTER_ADDRS", addrs, "MMQ_STORE_PREFIX", "{mmq}")
	if _, ok := app.rdb.(*redis.ClusterClient); !ok {
		t.Fatalf("client %T, want a cluster client", app.rdb)
	}
	exercise(t, url)

	// The store's keys share the slot of its prefix's tag; asynq's spread
	// over the slots of their queues.
	slots := map[int64]bool{}
	err := cc.ForEachMaster(ctx, func(ctx context.Context, n *redis.Client) error {
		keys, err := n.Keys(ctx, "{mmq}*").Result()
		for _, k := range keys {
			slot, err := cc.ClusterKeySlot(ctx, k).Result()
			if err != nil {
				return err
			}
			slots[slot] = true
		}
		return err
	})
	if err != nil || len(slots) != 1 {
		t.Errorf("store keys in slots %v (%v), want one", slots, err)
	}
}

func TestRedisSentinel(t *testing.T) {
	sentinel, master := os.Getenv("MMQ_TEST_REDIS_SENTINEL"), os.Getenv("MMQ_TEST_REDIS_SENTINEL_MASTER")
	if sentinel == "" || master == "" {
		t.Skip("MMQ_TEST_REDIS_SENTINEL(_MASTER) are not set; `make test-topologies` starts a sentinel")
	}
	ctx := context.Background()
	sc := redis.NewSentinelClient(&redis.Options{Addr: sentinel})
	defer sc.Close()
	primary := func() string {
		addr, err := sc.GetMasterAddrByName(ctx, master).Result()
		if err != nil {
			t.Fatal(err)
		}
		return strings.Join(addr, ":")
	}
	before := primary()
	fc := redis.NewFailoverClient(&redis.FailoverOptions{MasterName: master, SentinelAddrs: []string{sentinel}})
	defer fc.Close()
	if err := fc.FlushDB(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	_, url := startTopologyApp(t, "MMQ_REDIS_SENTINEL_MASTER_NAME", master, "MMQ_REDIS_SENTINEL_ADDRS", sentinel)
	exercise(t, url)

	// A failover: the replica becomes the primary, and the same process
	// goes on with it.
	if err := sc.Failover(ctx, master).Err(); err != nil {
		t.Fatal(err)
	}
	testwait.For(t, 30*time.Second, "a failover", func() bool { return primary() != before })
	// Wait for the switch to settle: the new primary has left replica
	// mode and the old one follows it. A write acknowledged by the old
	// primary before that would be lost with it: replication is
	// asynchronous, and so is every Sentinel failover.
	role := func(addr string) string {
		nc := redis.NewClient(&redis.Options{Addr: addr})
		defer nc.Close()
		r, err := nc.Do(ctx, "ROLE").Slice()
		if err != nil || len(r) == 0 {
			return fmt.Sprint(err)
		}
		return fmt.Sprint(r[0])
	}
	after := primary()
	if !testwait.Until(ctx, 30*time.Second, func() bool { return role(after) == "master" && role(before) == "slave" }) {
		t.Fatalf("failover did not settle: %s is %s, %s is %s", after, role(after), before, role(before))
	}
	t.Logf("failover: %s -> %s", before, after)
	runJob(t, client.New(url, nil))
}
