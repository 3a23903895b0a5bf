package store_test

import (
	"context"
	"encoding/json"
	"os"
	"reflect"
	"testing"

	"github.com/mmq/mmq/fsblob"
	"github.com/mmq/mmq/tasks"
)

func TestVideoPlanAndSummary(t *testing.T) {
	b := setup(t)
	ctx := context.Background()
	j := b.createJob(t, "url-job") // a document until its input says otherwise
	plan := tasks.VideoPlan{
		Info:    tasks.VideoInfo{DurationSec: 9.64, FPS: 25, Codec: "h264", Width: 640, Height: 360, HasAudio: true, Format: "mov,mp4"},
		Options: tasks.Options{Task: "general_qa", Sample: "fps:1", MaxFrames: 300, Start: 1.5},
		Frames:  9,
	}
	if err := b.store.SetVideoPlan(ctx, j.ID, plan); err != nil {
		t.Fatal(err)
	}
	got := b.getJob(t, j.ID)
	if got.Kind != tasks.KindVideo || got.Video == nil || *got.Video != plan.Info || !reflect.DeepEqual(got.Options, plan.Options) || got.PagesTotal != 9 {
		t.Errorf("job after SetVideoPlan: %+v", got)
	}

	// Without a frame count (scene sampling) the total is left alone.
	plan.Frames, plan.Options.Sample = 0, "scene:0.3"
	if err := b.store.SetVideoPlan(ctx, j.ID, plan); err != nil {
		t.Fatal(err)
	}
	if got := b.getJob(t, j.ID); got.PagesTotal != 9 || got.Options.Sample != "scene:0.3" {
		t.Errorf("job after a plan without frames: %+v", got)
	}

	if err := b.store.SetSummary(ctx, j.ID, json.RawMessage("{\n \"scenes\": [] }")); err != nil {
		t.Fatal(err)
	}
	if got := b.getJob(t, j.ID); string(got.Summary) != `{"scenes":[]}` {
		t.Errorf("summary %s", got.Summary)
	}
	if err := b.store.SetSummary(ctx, j.ID, json.RawMessage("{")); err == nil {
		t.Error("SetSummary accepted invalid JSON")
	}
	if err := b.store.SetVideoPlan(ctx, "no-such-job", plan); tasks.ErrorCode(err) != tasks.CodeNotFound {
		t.Errorf("SetVideoPlan of an unknown job: %v", err)
	}
}

func TestBlobPath(t *testing.T) {
	blobs, err := fsblob.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	key, err := blobs.Put(context.Background(), []byte("video bytes"))
	if err != nil {
		t.Fatal(err)
	}
	p, err := blobs.Path(key)
	if err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(p); err != nil || string(b) != "video bytes" {
		t.Errorf("Path(%s) holds %q (%v)", key, b, err)
	}
	if _, err := blobs.Path("../../etc/passwd"); err == nil {
		t.Error("Path accepted a key that is no digest")
	}
	other := "0" + key[1:]
	if key[0] == '0' {
		other = "1" + key[1:]
	}
	if _, err := blobs.Path(other); err == nil {
		t.Error("Path of an unknown key did not fail")
	}
}
