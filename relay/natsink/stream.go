package natsink

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/crmkit/crmkit/crm"
)

// DefaultDuplicates is the duplicate window [EnsureStream] gives a stream
// when asked for none. It covers a relay's default lease (30 s) and its
// longest default backoff (5 min) with room to spare: the window must be
// longer than the time between a publish whose acknowledgement was lost
// and the relay's next attempt, or the stream stores the event twice
// (consumers still de-duplicate by event ID).
const DefaultDuplicates = 10 * time.Minute

// EnsureStream makes sure a stream called name stores the subjects
// "<prefix>.>" with a duplicate window of at least duplicates (0 means
// [DefaultDuplicates]), and returns it.
//
// A missing stream is created with those subjects and that window, in
// file storage, with JetStream's defaults otherwise (limits retention, no
// limits). An existing stream keeps its configuration, but for
// "<prefix>.>" added to its subjects when none of them is that filter or
// ">", and its duplicate window raised to duplicates when shorter (the
// server refuses a window longer than the stream's MaxAge). Hosts that
// want other settings (replicas, retention, limits) create the stream
// themselves.
func EnsureStream(ctx context.Context, js jetstream.JetStream, name, prefix string, duplicates time.Duration) (jetstream.Stream, error) {
	var probs crm.Problems
	if js == nil {
		probs.Add("js", "is required")
	}
	if name == "" {
		probs.Add("name", "is required")
	}
	if prefix == "" {
		prefix = DefaultPrefix
	}
	if err := checkPrefix(prefix); err != nil {
		probs.Add("prefix", "%s", err.Error())
	}
	if duplicates < 0 {
		probs.Add("duplicates", "must not be negative")
	}
	if err := probs.Err(); err != nil {
		return nil, fmt.Errorf("natsink: ensure stream: %w", err)
	}
	if duplicates == 0 {
		duplicates = DefaultDuplicates
	}
	filter := prefix + ".>"
	for range 3 {
		st, err := js.Stream(ctx, name)
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			st, err = js.CreateStream(ctx, jetstream.StreamConfig{
				Name:       name,
				Subjects:   []string{filter},
				Duplicates: duplicates,
				Storage:    jetstream.FileStorage,
			})
			if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
				continue // created meanwhile by another host: update it
			}
		}
		if err != nil {
			return nil, fmt.Errorf("natsink: ensure stream %s: %w", name, err)
		}
		cfg := st.CachedInfo().Config
		changed := false
		if !slices.Contains(cfg.Subjects, filter) && !slices.Contains(cfg.Subjects, ">") {
			cfg.Subjects = append(cfg.Subjects, filter)
			changed = true
		}
		if cfg.Duplicates < duplicates {
			cfg.Duplicates = duplicates
			changed = true
		}
		if !changed {
			return st, nil
		}
		st, err = js.UpdateStream(ctx, cfg)
		if err != nil {
			return nil, fmt.Errorf("natsink: ensure stream %s: update: %w", name, err)
		}
		return st, nil
	}
	return nil, fmt.Errorf("natsink: ensure stream %s: created and deleted concurrently", name)
}
