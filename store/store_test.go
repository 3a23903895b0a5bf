package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/mmq/mmq/fsblob"
	"github.com/mmq/mmq/internal/redistest"
	"github.com/mmq/mmq/store"
	"github.com/mmq/mmq/tasks"
	"github.com/mmq/mmq/worker"
	"github.com/redis/go-redis/v9"
)

var (
	_ worker.Store = (*store.Redis)(nil)
	_ worker.Blobs = (*fsblob.Blobs)(nil)
)

// testBundle is what a store test works with.
type testBundle struct {
	store  *store.Redis
	client *redis.Client
}

// setup returns a store on the package's own, freshly flushed, DB.
func setup(tb testing.TB) testBundle {
	tb.Helper()
	client := redistest.New(tb, redistest.DBStore)
	s, err := store.New(client, store.Config{})
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	return testBundle{store: s, client: client}
}

// createJob stores a new document job with id.
func (b testBundle) createJob(tb testing.TB, id string) *tasks.Job {
	tb.Helper()
	j := &tasks.Job{ID: id, Kind: tasks.KindDocument}
	if err := b.store.CreateJob(context.Background(), j, ""); err != nil {
		tb.Fatalf("CreateJob(%s): %v", id, err)
	}
	return j
}

// getJob reads the job id, which must exist.
func (b testBundle) getJob(tb testing.TB, id string) *tasks.Job {
	tb.Helper()
	j, err := b.store.GetJob(context.Background(), id)
	if err != nil {
		tb.Fatalf("GetJob(%s): %v", id, err)
	}
	return j
}

func TestNewConfig(t *testing.T) {
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:0"})
	t.Cleanup(func() { _ = client.Close() })
	tests := []struct {
		name string
		cfg  store.Config
		ok   bool
	}{
		{"zero", store.Config{}, true},
		{"custom", store.Config{Prefix: "x", Retention: time.Hour, NotificationsMaxLen: 10}, true},
		{"brace in prefix", store.Config{Prefix: "a{b}"}, false},
		{"negative retention", store.Config{Retention: -time.Hour}, false},
		{"sub-second retention", store.Config{Retention: time.Millisecond}, false},
		{"negative max len", store.Config{NotificationsMaxLen: -1}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := store.New(client, tt.cfg)
			if (err == nil) != tt.ok {
				t.Fatalf("New(%+v) error = %v, want ok = %v", tt.cfg, err, tt.ok)
			}
		})
	}
	if _, err := store.New(nil, store.Config{}); err == nil {
		t.Fatal("New(nil client) succeeded")
	}
}

func TestPing(t *testing.T) {
	b := setup(t)
	if err := b.store.Ping(context.Background()); err != nil {
		t.Fatalf("Ping: %v", err)
	}
}

func TestJobRoundTrip(t *testing.T) {
	b := setup(t)
	ctx := context.Background()
	created := time.Date(2025, 3, 1, 12, 30, 45, 123456789, time.UTC)
	started := created.Add(time.Second)
	finished := created.Add(time.Minute)
	want := &tasks.Job{
		ID:     "job-1",
		Kind:   tasks.KindVideo,
		Status: tasks.StatusProcessing,
		Options: tasks.Options{
			Task:     "text_extraction",
			Priority: tasks.PriorityCritical,
			MaxPages: 7,
			Sample:   "scene:0.3",
			End:      12.5,
		},
		BatchID:      "batch-9",
		CallbackURL:  "https://hooks.example.com/mmq",
		Video:        &tasks.VideoInfo{DurationSec: 12.5, FPS: 29.97, Codec: "h264", Width: 640, Height: 360, HasAudio: true},
		Metadata:     json.RawMessage(`{"customer":"acme","tags":["a","b"]}`),
		Filename:     "talk.mp4",
		SourceURL:    "https://example.com/talk.mp4",
		BlobKey:      strings.Repeat("ab", 32),
		Size:         1 << 40,
		PagesTotal:   12,
		PagesDone:    5,
		PagesFailed:  2,
		Attempts:     3,
		ErrorCode:    tasks.CodeProviderFailed,
		ErrorMessage: "provider said no",
		CreatedAt:    created,
		StartedAt:    &started,
		FinishedAt:   &finished,
	}
	j := *want
	if err := b.store.CreateJob(ctx, &j, "s3cret"); err != nil {
		t.Fatalf("CreateJob: %v", err)
	}
	want.HasPassword = true
	if got := b.getJob(t, want.ID); !reflect.DeepEqual(got, want) {
		t.Errorf("GetJob:\n got %+v\nwant %+v", got, want)
	}

	pw, err := b.store.Password(ctx, want.ID)
	if err != nil || pw != "s3cret" {
		t.Errorf("Password = %q, %v; want s3cret", pw, err)
	}
	record, err := b.client.HGetAll(ctx, "mmq:job:{job-1}").Result()
	if err != nil {
		t.Fatal(err)
	}
	for field, v := range record {
		if strings.Contains(v, "s3cret") {
			t.Errorf("record field %s holds the password", field)
		}
	}
}

func TestCreateJobDefaults(t *testing.T) {
	b := setup(t)
	before := time.Now()
	j := b.createJob(t, "j")
	got := b.getJob(t, "j")
	if got.Status != tasks.StatusQueued || got.CreatedAt.Before(before) || got.HasPassword {
		t.Errorf("GetJob = %+v; want queued, created now, no password", got)
	}
	if !got.CreatedAt.Equal(j.CreatedAt) {
		t.Errorf("CreatedAt = %v; CreateJob set %v", got.CreatedAt, j.CreatedAt)
	}
	if pw, err := b.store.Password(context.Background(), "j"); err != nil || pw != "" {
		t.Errorf("Password = %q, %v; want empty", pw, err)
	}
}

func TestCreateJobErrors(t *testing.T) {
	b := setup(t)
	b.createJob(t, "dup")
	tests := []struct {
		id   string
		want tasks.Code
	}{
		{"dup", tasks.CodeConflict},
		{"", tasks.CodeInvalidRequest},
		{"a{b", tasks.CodeInvalidRequest},
		{"a}b", tasks.CodeInvalidRequest},
	}
	for _, tt := range tests {
		err := b.store.CreateJob(context.Background(), &tasks.Job{ID: tt.id}, "")
		if got := tasks.ErrorCode(err); got != tt.want {
			t.Errorf("CreateJob(%q) = %v; want code %s", tt.id, err, tt.want)
		}
	}
}

func TestNotFound(t *testing.T) {
	b := setup(t)
	ctx := context.Background()
	calls := map[string]func() error{
		"GetJob": func() error { _, err := b.store.GetJob(ctx, "nope"); return err },
		"StartJob": func() error {
			_, err := b.store.StartJob(ctx, "nope")
			return err
		},
		"SetInput":      func() error { return b.store.SetInput(ctx, "nope", "k", 1) },
		"SetPagesTotal": func() error { return b.store.SetPagesTotal(ctx, "nope", 1) },
		"DonePages": func() error {
			_, err := b.store.DonePages(ctx, "nope")
			return err
		},
		"SavePage": func() error {
			return b.store.SavePage(ctx, "nope", tasks.PageResult{Index: 1, Status: tasks.PageDone})
		},
		"Results": func() error {
			_, _, err := b.store.Results(ctx, "nope", -1, 10)
			return err
		},
		"FinishJob": func() error {
			_, err := b.store.FinishJob(ctx, "nope", tasks.StatusSucceeded, "", "")
			return err
		},
	}
	for name, call := range calls {
		err := call()
		if !errors.Is(err, store.ErrNotFound) || tasks.ErrorCode(err) != tasks.CodeNotFound {
			t.Errorf("%s on a missing job = %v; want ErrNotFound with code not_found", name, err)
		}
	}
	// No call may have created a partial record.
	if n, err := b.client.DBSize(ctx).Result(); err != nil || n != 0 {
		t.Errorf("DBSize = %d, %v; want 0", n, err)
	}
}

func TestStartJob(t *testing.T) {
	b := setup(t)
	ctx := context.Background()
	b.createJob(t, "j")

	first, err := b.store.StartJob(ctx, "j")
	if err != nil {
		t.Fatalf("StartJob: %v", err)
	}
	if first.Status != tasks.StatusProcessing || first.Attempts != 1 || first.StartedAt == nil {
		t.Fatalf("first StartJob = %+v; want processing, 1 attempt, started", first)
	}
	second, err := b.store.StartJob(ctx, "j")
	if err != nil {
		t.Fatalf("StartJob: %v", err)
	}
	if second.Attempts != 2 || !second.StartedAt.Equal(*first.StartedAt) {
		t.Errorf("second StartJob = %+v; want 2 attempts, same start %v", second, first.StartedAt)
	}

	if _, err := b.store.FinishJob(ctx, "j", tasks.StatusCanceled, tasks.CodeCanceled, "canceled"); err != nil {
		t.Fatalf("FinishJob: %v", err)
	}
	ended, err := b.store.StartJob(ctx, "j")
	if err != nil {
		t.Fatalf("StartJob: %v", err)
	}
	if ended.Status != tasks.StatusCanceled || ended.Attempts != 2 {
		t.Errorf("StartJob of an ended job = %+v; want it unchanged", ended)
	}
}

func TestSetInputAndPagesTotal(t *testing.T) {
	b := setup(t)
	ctx := context.Background()
	b.createJob(t, "j")
	key := strings.Repeat("0f", 32)
	if err := b.store.SetInput(ctx, "j", key, 1234); err != nil {
		t.Fatalf("SetInput: %v", err)
	}
	if err := b.store.SetPagesTotal(ctx, "j", 42); err != nil {
		t.Fatalf("SetPagesTotal: %v", err)
	}
	if j := b.getJob(t, "j"); j.BlobKey != key || j.Size != 1234 || j.PagesTotal != 42 {
		t.Errorf("GetJob = %+v; want blob %s, size 1234, 42 pages", j, key)
	}
}
