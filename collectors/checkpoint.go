package collectors

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/groundwork-dev/groundwork/timeline"
)

// CheckpointStore keeps the progress of collections that have not finished,
// so that one interrupted by a crash, a restart or a timeout resumes where
// it stopped instead of reading every source again from the start.
// timeline/postgres.Store implements it.
//
// Methods return ErrUnavailable (wrapped) when the store cannot be reached.
type CheckpointStore interface {
	// Checkpoints returns the states saved for the incident's source, by
	// key; empty when there are none.
	Checkpoints(ctx context.Context, incidentID, source string) (map[string][]byte, error)
	// SaveCheckpoints records the states (JSON documents) of the
	// incident's source under their keys, all at once, replacing those
	// saved before under the same keys.
	SaveCheckpoints(ctx context.Context, incidentID, source string, states map[string][]byte) error
	// ClearCheckpoints forgets the states of the given sources of the
	// incident, or of all its sources when none is given.
	ClearCheckpoints(ctx context.Context, incidentID string, sources ...string) error
}

// Checkpoint is one source's saved progress within one collection, handed
// by the Runner to a Resumer. Its methods may be called from several
// goroutines.
type Checkpoint interface {
	// Load decodes the state saved under key into v. It reports false when
	// there is none: the collection is new, or the saved progress was of
	// another window and has been dropped.
	Load(key string, v any) (bool, error)
	// Save records v (JSON-encoded) as the state under key, once every
	// event emitted before the call is stored: a collection interrupted
	// afterwards resumes from v, and loses nothing emitted before it. key
	// must not be empty.
	Save(ctx context.Context, key string, v any) error
}

// Resumer is implemented by a collector that can resume an interrupted
// collection where the upstream allows it (Slack history paging).
type Resumer interface {
	// CollectResume is Collect, continuing from the states cp holds and
	// saving its progress to cp as it goes. It emits at least every event
	// that a collection from the start would emit after the last saved
	// state; events before it were stored by the interrupted run. A
	// collector that is also a Sweeper reports its sweeps to sweep (nil:
	// none wanted) as CollectSweeping does, and none for a part it went on
	// reading from saved progress, since it did not emit what was read
	// before.
	CollectResume(ctx context.Context, w timeline.Window, cp Checkpoint, emit func(timeline.Event) error, sweep func(timeline.Sweep)) error
}

// progressMeta is the Runner's own record of a source's progress, saved
// under key "".
type progressMeta struct {
	// Window is the fingerprint of the window the progress belongs to.
	Window string `json:"window"`
	// Done is set once the source has collected the whole window.
	Done bool `json:"done,omitempty"`
	// Events is the number of distinct events stored for the source in
	// this collection when the record was saved.
	Events int `json:"events"`
}

// windowFingerprint identifies a window: the same incident, span and scope
// give the same string, whatever the order of the repositories and channels.
func windowFingerprint(w timeline.Window) string {
	repos, channels := slices.Clone(w.Repos), slices.Clone(w.Channels)
	slices.Sort(repos)
	slices.Sort(channels)
	b, _ := json.Marshal(struct {
		Incident        string
		Start, End      time.Time
		Repos, Channels []string
	}{w.IncidentID, w.Start.UTC(), w.End.UTC(), repos, channels})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16])
}

// runCheckpoint is the Checkpoint of one source in one Runner.Run.
type runCheckpoint struct {
	store              CheckpointStore
	incidentID, source string
	window             string
	states             map[string][]byte
	// flushLocked stores the pending events and returns the count of
	// distinct events stored; the caller holds the source's lock.
	flushLocked func(ctx context.Context) (int, error)
	lock        func()
	unlock      func()
	saved       int
}

func (cp *runCheckpoint) Load(key string, v any) (bool, error) {
	raw, ok := cp.states[key]
	if !ok || key == "" {
		return false, nil
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return false, fmt.Errorf("checkpoint %s of %s: %w", key, cp.source, err)
	}
	return true, nil
}

func (cp *runCheckpoint) Save(ctx context.Context, key string, v any) error {
	if key == "" {
		return errors.New("collectors: a checkpoint key must not be empty")
	}
	state, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("checkpoint %s of %s: %w", key, cp.source, err)
	}
	cp.lock()
	defer cp.unlock()
	events, err := cp.flushLocked(ctx)
	if err != nil {
		return err
	}
	meta, _ := json.Marshal(progressMeta{Window: cp.window, Events: events})
	if err := cp.store.SaveCheckpoints(ctx, cp.incidentID, cp.source, map[string][]byte{key: state, "": meta}); err != nil {
		return err
	}
	cp.saved++
	return nil
}
