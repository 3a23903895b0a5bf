package worker

import (
	"context"
	"sync"
	"time"

	"github.com/rs/zerolog"
)

// BlobSweeper deletes the inputs no job needs any more. store.Redis
// implements it (with store.Config.Blobs set).
type BlobSweeper interface {
	SweepBlobs(ctx context.Context) (deleted int, err error)
}

// sweeper runs the blob sweep every interval, like asynq's janitor: every
// worker process runs one, and the store lets each blob be claimed by one
// sweep, so any number of them may run at once.
type sweeper struct {
	sweep    BlobSweeper
	interval time.Duration
	log      zerolog.Logger
	cancel   context.CancelFunc
	wg       sync.WaitGroup
}

// start starts the sweeps; shutdown stops them.
func (s *sweeper) start() {
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	s.wg.Go(func() {
		t := time.NewTicker(s.interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			n, err := s.sweep.SweepBlobs(ctx)
			switch {
			case err != nil && ctx.Err() == nil:
				s.log.Warn().Err(err).Int("deleted", n).Msg("blob sweep")
			case n > 0:
				s.log.Info().Int("deleted", n).Msg("deleted the inputs of expired or deleted jobs")
			}
		}
	})
}

func (s *sweeper) shutdown() {
	if s.cancel != nil {
		s.cancel()
	}
	s.wg.Wait()
}
