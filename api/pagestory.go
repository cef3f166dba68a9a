package api

import (
	"context"
	"fmt"
	"time"

	"github.com/groundwork-dev/groundwork/timeline"
)

// pageStory is the story view of the page's timeline (timeline.BuildStory,
// with the incident's hide and star marks and the review.story rules), as
// GET /v1/incidents/{id}/timeline?view=story tells it: the page's table
// shows its rows, and its collapsed rows expand on click.
func (s *Server) pageStory(ctx context.Context, id string, events []timeline.Event, moments []timeline.KeyMoment, loc *time.Location) (timeline.Story, error) {
	var marks timeline.StoryMarks
	if ms, ok := s.Store.(timeline.StoryMarkStore); ok {
		var err error
		if marks, err = ms.StoryMarks(ctx, id); err != nil {
			return timeline.Story{}, err
		}
	}
	return timeline.BuildStory(timeline.StoryInput{Events: events, KeyMoments: moments,
		Hidden: marks.Hidden, Starred: marks.Starred, Config: s.Story, Location: loc}), nil
}

func detailString(e timeline.Event, key string) string {
	switch v := e.Details[key].(type) {
	case string:
		return v
	case nil:
		return ""
	default:
		return fmt.Sprint(v)
	}
}
