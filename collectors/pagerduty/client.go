package pagerduty

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	pd "github.com/PagerDuty/go-pagerduty"

	"github.com/groundwork-dev/groundwork/collectors"
	"github.com/groundwork-dev/groundwork/timeline"
)

// RetryAfter recognises PagerDuty's rate-limit refusals: a 429 whose
// ratelimit-reset header says how many seconds remain until the budget
// resets (Retry-After is honoured when that is missing). It never asks for
// less than a second, so that a limited client does not spin.
func RetryAfter(resp *http.Response, _ time.Time) (time.Duration, bool) {
	if resp.StatusCode != http.StatusTooManyRequests {
		return 0, false
	}
	wait := time.Second
	if d, ok := collectors.SecondsHeader(resp.Header, "ratelimit-reset"); ok {
		wait = d
	} else if d, ok := collectors.SecondsHeader(resp.Header, "Retry-After"); ok {
		wait = d
	}
	return max(wait, time.Second), true
}

// go-pagerduty flattens transport errors into text ("error calling the API
// endpoint: %v"), which would lose *collectors.RateLimitError and context
// errors. errDoer records the transport's own error in a slot carried by
// the request's context, so that call can return it with its chain intact.
type errDoer struct{ c *http.Client }

type errSlotKey struct{}

type errSlot struct {
	mu  sync.Mutex
	err error
}

func (d errDoer) Do(req *http.Request) (*http.Response, error) {
	resp, err := d.c.Do(req)
	if err != nil {
		if s, ok := req.Context().Value(errSlotKey{}).(*errSlot); ok {
			s.mu.Lock()
			s.err = err
			s.mu.Unlock()
		}
	}
	return resp, err
}

// call runs one library call of endpoint ("GET /incidents/Q1/notes") and
// turns its error into one that names op, wraps timeline.ErrNotFound for a
// 404 and collectors.ErrWrongShape (naming the endpoint) for an answer
// without its top-level key, keeps the transport's error chain (rate limits,
// network) and is ctx.Err() when ctx ended.
func (c *Collector) call(ctx context.Context, op, endpoint string, fn func(ctx context.Context) error) error {
	slot := &errSlot{}
	err := fn(context.WithValue(ctx, errSlotKey{}, slot))
	if err == nil {
		return nil
	}
	if cerr := ctx.Err(); cerr != nil {
		return cerr
	}
	slot.mu.Lock()
	if slot.err != nil {
		err = slot.err
	}
	slot.mu.Unlock()
	var apiErr pd.APIError
	if errors.As(err, &apiErr) && apiErr.NotFound() {
		return fmt.Errorf("%s: %w (%s)", op, timeline.ErrNotFound, apiErr.Error())
	}
	// go-pagerduty checks the top-level key of single objects and of notes
	// itself, with an error of its own words.
	if msg := err.Error(); strings.Contains(msg, "JSON response does not have ") {
		return fmt.Errorf("%s: %w", op, wrongShape(endpoint, msg))
	}
	return fmt.Errorf("%s: %w", op, err)
}

// wrongShape is the error of a 200 answer of endpoint without what: a list
// page without its list, an object without its id.
func wrongShape(endpoint, what string) error {
	return fmt.Errorf("%s: %w: %s", endpoint, collectors.ErrWrongShape, what)
}

// redact makes sure err's text does not contain the token.
func (c *Collector) redact(err error) error {
	return collectors.HideSecret(err, c.cfg.Token)
}

// isNotFound reports whether err is the upstream's 404.
func isNotFound(err error) bool { return errors.Is(err, timeline.ErrNotFound) }

// isRateLimit reports whether err wraps a rate-limit wait too long to sit out.
func isRateLimit(err error) bool {
	var rl *collectors.RateLimitError
	return errors.As(err, &rl)
}
