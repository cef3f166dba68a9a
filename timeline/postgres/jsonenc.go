package postgres

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"

	"github.com/groundwork-dev/groundwork/timeline"
)

// The store encodes every event's actor and details on each write, which
// with encoding/json's reflection and key sorting cost as much as Postgres's
// own work for the row. These encoders handle the shapes collectors produce
// (strings, numbers, booleans, nil, slices and maps of them) directly and
// fall back to encoding/json for anything else. Output is deterministic —
// map keys sorted — because the content hash is taken over it.

// appendActor encodes an actor as {"id","name"[,"email"][,"time_zone"][,"bot"]},
// as encoding/json does.
func appendActor(b []byte, a *timeline.Actor) []byte {
	b = append(b, `{"id":`...)
	b = appendJSONString(b, a.ID)
	b = append(b, `,"name":`...)
	b = appendJSONString(b, a.Name)
	if a.Email != "" {
		b = append(b, `,"email":`...)
		b = appendJSONString(b, a.Email)
	}
	if a.TimeZone != "" {
		b = append(b, `,"time_zone":`...)
		b = appendJSONString(b, a.TimeZone)
	}
	if a.Bot {
		b = append(b, `,"bot":true`...)
	}
	return append(b, '}')
}

// appendJSONValue encodes v as JSON.
func appendJSONValue(b []byte, v any) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return append(b, "null"...), nil
	case string:
		return appendJSONString(b, x), nil
	case bool:
		return strconv.AppendBool(b, x), nil
	case int:
		return strconv.AppendInt(b, int64(x), 10), nil
	case int32:
		return strconv.AppendInt(b, int64(x), 10), nil
	case int64:
		return strconv.AppendInt(b, x, 10), nil
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return b, fmt.Errorf("unsupported number %v", x)
		}
		if x == math.Trunc(x) && math.Abs(x) < 1e15 {
			return strconv.AppendInt(b, int64(x), 10), nil
		}
		return strconv.AppendFloat(b, x, 'g', -1, 64), nil
	case []string:
		b = append(b, '[')
		for i, s := range x {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, s)
		}
		return append(b, ']'), nil
	case []any:
		b = append(b, '[')
		for i, e := range x {
			if i > 0 {
				b = append(b, ',')
			}
			var err error
			if b, err = appendJSONValue(b, e); err != nil {
				return b, err
			}
		}
		return append(b, ']'), nil
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		b = append(b, '{')
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, k)
			b = append(b, ':')
			var err error
			if b, err = appendJSONValue(b, x[k]); err != nil {
				return b, err
			}
		}
		return append(b, '}'), nil
	default:
		j, err := json.Marshal(x) // maps of other types have sorted keys too
		if err != nil {
			return b, err
		}
		return append(b, j...), nil
	}
}
