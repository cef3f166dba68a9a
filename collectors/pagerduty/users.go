package pagerduty

import (
	"context"
	"sync"

	pd "github.com/PagerDuty/go-pagerduty"
	"go.uber.org/zap"
)

// userCache resolves user ids through GET /users/{id}, once per id per
// collection run, and serves as the UserResolver of that run. Concurrent
// resolutions of one id share one request.
type userCache struct {
	fetch func(ctx context.Context, id string) (User, error)
	log   *zap.Logger

	mu sync.Mutex
	m  map[string]*userCall
}

type userCall struct {
	done chan struct{}
	u    User
	ok   bool
	err  error
}

func newUserCache(fetch func(ctx context.Context, id string) (User, error), log *zap.Logger) *userCache {
	return &userCache{fetch: fetch, log: log, m: map[string]*userCall{}}
}

// User implements UserResolver with the users resolved so far.
func (c *userCache) User(id string) (User, bool) {
	c.mu.Lock()
	call, ok := c.m[id]
	c.mu.Unlock()
	if !ok {
		return User{}, false
	}
	select {
	case <-call.done:
		return call.u, call.ok
	default:
		return User{}, false
	}
}

// resolve makes sure every user reference in refs has been looked up. A user
// PagerDuty does not know (deleted) or cannot show keeps the reference's
// summary as its name; only a cancelled context or a rate limit too long to
// wait out is an error.
func (c *userCache) resolve(ctx context.Context, refs []pd.APIObject) error {
	for _, ref := range refs {
		if ref.ID == "" || !isUserRef(ref.Type) {
			continue
		}
		if err := c.one(ctx, ref.ID); err != nil {
			return err
		}
	}
	return nil
}

func (c *userCache) one(ctx context.Context, id string) error {
	c.mu.Lock()
	call, ok := c.m[id]
	if !ok {
		call = &userCall{done: make(chan struct{})}
		c.m[id] = call
	}
	c.mu.Unlock()
	if ok {
		select {
		case <-call.done:
			return call.err
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	u, err := c.fetch(ctx, id)
	switch {
	case err == nil:
		call.u, call.ok = u, true
	case ctx.Err() != nil || isRateLimit(err):
		call.err = err
		// Forget the failed call so that a later run may try again.
		c.mu.Lock()
		delete(c.m, id)
		c.mu.Unlock()
	case isNotFound(err):
		// A deleted user: the reference's summary is all there is.
	default:
		c.log.Warn("resolving a PagerDuty user failed; keeping the reference's name",
			zap.String("user_id", id), zap.Error(err))
	}
	close(call.done)
	return call.err
}

// logEntryUsers lists the user references of a log entry: its agent, the
// notified user and the assignees.
func logEntryUsers(refs []pd.APIObject, le pd.LogEntry) []pd.APIObject {
	refs = append(refs, pd.APIObject(le.Agent), le.User)
	return append(refs, le.Assignees...)
}
